"""A synthetic study and a matching evaluation file for the report tests (generated, not measured data)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis.results import write_results
from harness.analysis.synthetic import synthetic_ratings


def study_and_evaluation(tmp_path, *, n_raters: int = 12, seed: int = 0):
    """(ratings frame, evaluation.json path): PESQ/ViSQOL-like metrics that follow the true quality per stimulus."""
    ratings = synthetic_ratings(n_raters=n_raters, n_items=6, seed=seed)
    rng = np.random.default_rng(seed + 1)
    truth = ratings.groupby(["item", "condition", "category", "codec", "kbps"], dropna=False).agg(
        q=("score", "mean"), measured_kbps=("measured_kbps", "mean")).reset_index()
    rows = []
    for r in truth.itertuples():
        codec = None if pd.isna(r.codec) else r.codec
        for metric, value, unit in (("pesq", 1 + 3.5 * r.q / 100 + rng.normal(0, 0.15), "MOS-LQO"),
                                    ("visqol-audio", min(5.0, 1 + 4 * r.q / 100 + rng.normal(0, 0.3)), "MOS-LQO"),
                                    ("mel", 2.5 - r.q / 50 + rng.normal(0, 0.4), "log10-mel L1")):
            failed = metric == "pesq" and r.category == "music"
            rows.append({"item": r.item, "category": r.category, "condition": r.condition, "codec": codec,
                         "kbps": r.kbps, "measured_kbps": r.measured_kbps, "metric": metric,
                         "value": np.nan if failed else float(value), "unit": unit, "settings": {},
                         "version": "synthetic", "codec_settings": {}, "codec_versions": {}, "key": "",
                         "cached": False, "error": "pesq is defined for speech / mixed, not music" if failed
                         else None})
    paths = write_results(pd.DataFrame(rows), tmp_path / "eval", {"synthetic": True})
    return ratings, paths["json"]
