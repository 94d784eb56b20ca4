"""Evaluation results files: ``evaluation.json`` (versioned: format tag + schema version checked on load),
``evaluation.csv`` and ``evaluation.parquet``, one row per (cell, metric)."""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import HarnessError
from harness.files import atomic_write, read_json
from harness.vocabulary import normalize_condition_id

FORMAT = "mushra-harness/evaluation"
SCHEMA_VERSION = 1
ROW_COLUMNS = ["item", "category", "condition", "codec", "kbps", "measured_kbps", "metric", "value", "unit",
               "settings", "version", "codec_settings", "codec_versions", "key", "cached", "error"]
# "error": empty, or what went wrong in that cell (its value is then NaN); the other cells still run


class EvaluationError(HarnessError):
    """Bad evaluation request or unreadable results file."""


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=ROW_COLUMNS)
    df["error"] = df["error"].astype(object).where(df["error"].notna(), "")
    return df.sort_values(["metric", "codec", "kbps", "item", "condition"], na_position="first",
                          kind="stable").reset_index(drop=True)


# --- results files ------------------------------------------------------------------------------------------
def write_results(df: pd.DataFrame, out_dir: str | Path, settings: dict[str, Any]) -> dict[str, Path]:
    """Write ``evaluation.json`` (versioned), ``evaluation.csv`` and ``evaluation.parquet`` to ``out_dir``."""
    from harness import __version__

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = [{k: _jsonable(v) for k, v in r.items()}
               for r in df.drop(columns=["cached"], errors="ignore").to_dict(orient="records")]
    doc = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "harness_version": __version__,
           "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "settings": settings,
           "rows": records}
    paths = {"json": out / "evaluation.json", "csv": out / "evaluation.csv", "parquet": out / "evaluation.parquet"}
    atomic_write(paths["json"], json.dumps(doc, indent=1, default=str) + "\n")
    flat = df.copy()
    for col in ("settings", "codec_settings", "codec_versions"):
        flat[col] = flat[col].map(lambda v: json.dumps(v, sort_keys=True, default=str))
    flat.to_csv(paths["csv"], index=False)
    from harness.extras import installed

    if installed("pyarrow"):
        flat.to_parquet(paths["parquet"], index=False)
    else:  # the light install: JSON and CSV only
        del paths["parquet"]
    return paths


def _jsonable(v: Any) -> Any:
    """Plain JSON values; NaN becomes null, infinities the strings "inf"/"-inf" (standard JSON has neither)."""
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def read_results(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Load a results JSON (format and schema checked). Returns (rows frame, whole document)."""
    p = Path(path)
    if p.is_dir():
        p = p / "evaluation.json"
    doc = read_json(p, error=EvaluationError,
                    missing="results file not found; produce it with `mushra evaluate --out DIR`")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise EvaluationError(f"{p}: not a mushra-harness evaluation results file (format tag missing)")
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise EvaluationError(f"{p}: results schema version {doc.get('schema_version')} is not supported "
                              f"(expects {SCHEMA_VERSION}); re-run `mushra evaluate` with this version")
    df = _frame(doc.get("rows", []))
    df["condition"] = df["condition"].map(lambda c: normalize_condition_id(c) if isinstance(c, str) else c)
    for col in ("value", "kbps", "measured_kbps"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df, doc
