"""Line numbers for keys of a TOML document, so study-file errors can say ``study.toml:12: ...``.

:mod:`tomllib` parses but forgets positions. :class:`KeyLines` scans the text once for table headers
(``[a.b]``, ``[[a]]``) and ``key =`` lines and maps key paths such as ``("conditions", 2, "kbps")`` to 1-based
line numbers. Keys of inline tables map to the line of the table's key. Unknown paths fall back to the
nearest known parent, then to line 1.
"""

from __future__ import annotations

import re

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(#.*)?$")
_TABLE_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _split_key(key: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'""", key)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


class KeyLines:
    """Map TOML key paths to line numbers (1-based)."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple, int] = {}
        counts: dict[tuple, int] = {}
        prefix: tuple = ()
        in_multiline = None
        for no, line in enumerate(text.splitlines(), start=1):
            if in_multiline:
                if line.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            m = _ARRAY_HEADER.match(line)
            if m:
                parts = tuple(_split_key(m.group(1)))
                base = self._resolve(parts[:-1], counts) + parts[-1:]
                index = counts.get(base, -1) + 1
                counts[base] = index
                prefix = base + (index,)
                self.lines.setdefault(prefix, no)
                self.lines.setdefault(base, no)
                continue
            m = _TABLE_HEADER.match(line)
            if m:
                prefix = self._resolve(tuple(_split_key(m.group(1))), counts)
                self.lines.setdefault(prefix, no)
                continue
            m = _KEY.match(line)
            if m:
                parts = tuple(_split_key(m.group(1)))
                for n in range(1, len(parts) + 1):  # a dotted key also defines its parent tables here
                    self.lines.setdefault(prefix + parts[:n], no)
                rest = line[m.end():]
                for quote in ('"""', "'''"):
                    if rest.count(quote) % 2 == 1:
                        in_multiline = quote

    @staticmethod
    def _resolve(path: tuple, counts: dict[tuple, int]) -> tuple:
        """Insert array-of-tables indices: ``[conditions.options]`` -> ``("conditions", 2, "options")``."""
        out: tuple = ()
        for part in path:
            out = out + (part,)
            if out in counts:
                out = out + (counts[out],)
        return out

    def line(self, *path) -> int:
        """Line of ``path``, else of its nearest known parent, else 1."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return 1
