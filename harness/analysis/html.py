"""One self-contained HTML report file: inline SVG figures, HTML tables, settings. No external resources."""

from __future__ import annotations

import datetime as _dt
import html
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em auto;max-width:1060px;
color:#222;line-height:1.45;padding:0 1em}
h1{border-bottom:2px solid #444;font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em;max-width:100%}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:right;vertical-align:top}th{background:#f2f2f2}
td:first-child,th:first-child{text-align:left}td{font-variant-numeric:tabular-nums}
figure{margin:1.2em 0}figure svg{width:100%;max-width:640px;height:auto;display:block}
figure.wide svg{max-width:100%}td{overflow-wrap:break-word}pre{overflow-wrap:anywhere}
figcaption,.note{color:#555;font-size:.9em}.summary{background:#f6f8fa;border-left:4px solid #0072B2;
padding:.5em 1em}.tbl{max-width:100%}pre{background:#f7f7f7;padding:1em;white-space:pre-wrap;
font-size:.8em}details{margin:.5em 0}summary{cursor:pointer;color:#0072B2}
"""


def inline_svg(path: str | Path, *, caption: str = "", wide: bool = False) -> str:
    """The SVG file's markup (no XML prolog/doctype) in a ``<figure>``; ``caption`` is trusted HTML."""
    text = Path(path).read_text()
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>", "", text, flags=re.S)
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    cls = ' class="wide"' if wide else ""
    return f"<figure{cls}>{text.strip()}{cap}</figure>"


def table_html(df: pd.DataFrame, *, float_digits: int = 2, index: bool = False, escape: bool = True,
               collapsed: str = "") -> str:
    """An HTML table (floats rounded to ``float_digits``); ``collapsed``: put it in a closed ``<details>``."""
    if df is None or len(df) == 0:
        return '<p class="note">(none)</p>'
    fmt = {c: (lambda v, k=float_digits: "" if pd.isna(v) else f"{v:.{k}f}")
           for c in df.columns if pd.api.types.is_float_dtype(df[c])}
    body = ('<div class="tbl">' + df.to_html(index=index, escape=escape, formatters=fmt, border=0, na_rep="")
            + "</div>")
    if collapsed:
        return f"<details><summary>{html.escape(collapsed)}</summary>{body}</details>"
    return body


def render(title: str, sections: list[tuple[str, str]], *, settings: dict[str, Any]) -> str:
    """Assemble the page. ``sections`` are (heading, inner HTML) in order."""
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f'<p class="note">Generated {now} by mushra-harness.</p>']
    toc = "".join(f'<li><a href="#s{i}">{html.escape(h)}</a></li>' for i, (h, _) in enumerate(sections))
    parts.append(f"<ul>{toc}<li><a href=\"#settings\">Settings and versions</a></li></ul>")
    for i, (heading, inner) in enumerate(sections):
        parts.append(f'<h2 id="s{i}">{html.escape(heading)}</h2>{inner}')
    parts.append('<h2 id="settings">Settings and versions</h2><details><summary>all settings (JSON)</summary><pre>'
                 + html.escape(json.dumps(settings, indent=2, default=str, sort_keys=True)) + "</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write(path: str | Path, page: str) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".part")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(p)
    return p
