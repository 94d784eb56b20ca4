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
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
color:#222;line-height:1.45;padding:0 1em}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f2f2f2}
td:first-child,th:first-child{text-align:left}
.figure svg{max-width:100%;height:auto}.note{color:#555;font-size:.9em}
.tbl{overflow-x:auto;max-width:100%}pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:.85em}
"""


def inline_svg(path: str | Path) -> str:
    """The SVG file's markup without the XML prolog/doctype, ready to embed."""
    text = Path(path).read_text()
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>", "", text, flags=re.S)
    return f'<div class="figure">{text.strip()}</div>'


def table_html(df: pd.DataFrame, *, float_digits: int = 2, index: bool = False) -> str:
    if df is None or len(df) == 0:
        return '<p class="note">(none)</p>'
    fmt = {c: (lambda v, k=float_digits: "" if pd.isna(v) else f"{v:.{k}f}")
           for c in df.columns if pd.api.types.is_float_dtype(df[c])}
    return '<div class="tbl">' + df.to_html(index=index, escape=True, formatters=fmt, border=0, na_rep="") + "</div>"


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
    parts.append('<h2 id="settings">Settings and versions</h2><pre>'
                 + html.escape(json.dumps(settings, indent=2, default=str, sort_keys=True)) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write(path: str | Path, page: str) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".part")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(p)
    return p
