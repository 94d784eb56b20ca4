"""The import rules of README.md's Architecture section, checked on the source: the web test and the analysis
meet only in harness.vocabulary, harness.ratings and the pure statistics of harness.inference; the shared
modules import no wing."""

from __future__ import annotations

import ast
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[1] / "harness"

FORBIDDEN = {  # package -> packages it must never import (directly or lazily inside functions)
    "harness.webtest": ("harness.analysis", "harness.prepare"),
    "harness.analysis": ("harness.webtest",),
    "harness.inference": ("harness.analysis", "harness.webtest", "harness.ratings", "harness.prepare"),
    "harness.ratings": ("harness.webtest", "harness.analysis", "harness.prepare", "harness.inference"),
    "harness.study": ("harness.webtest", "harness.analysis", "harness.prepare", "harness.ratings"),
    "harness.prepare": ("harness.webtest", "harness.analysis"),
    "harness.codecs": ("harness.webtest", "harness.analysis", "harness.prepare", "harness.study",
                       "harness.ratings"),
    "harness.vocabulary": ("harness.",),
    "harness.files": ("harness.",),
}
ALLOWED_EVERYWHERE = ("harness.errors", "harness.vocabulary", "harness.files")


def _module(path: Path) -> str:
    rel = path.relative_to(HARNESS.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


def test_no_package_imports_what_the_architecture_forbids():
    problems = []
    for path in HARNESS.rglob("*.py"):
        mod = _module(path)
        for pkg, banned in FORBIDDEN.items():
            if mod != pkg and not mod.startswith(pkg + "."):
                continue
            for imp in _imports(path):
                if imp.startswith(ALLOWED_EVERYWHERE) and pkg not in ("harness.vocabulary", "harness.files"):
                    continue
                if imp == "harness" or imp.startswith("harness.errors"):
                    continue
                if any(imp == b or imp.startswith(b if b.endswith(".") else b + ".") for b in banned):
                    problems.append(f"{mod} imports {imp}")
    assert problems == []


def test_the_rule_catches_a_violation(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from harness.webtest.export import ratings_frame\n")
    assert _imports(bad) == ["harness.webtest.export"]
