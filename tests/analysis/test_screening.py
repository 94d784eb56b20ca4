import pandas as pd
import pytest

from harness.inference import screening as S
from tests.analysis.helpers import ratings_table

GOOD = {"reference": [100] * 20, "lp7": [50] * 20, "lp3.5": [20] * 20, "c@6": [60] * 20}


def _with(**changes):
    d = {k: list(v) for k, v in GOOD.items()}
    for cond, scores in changes.items():
        d[cond.replace("_", "@").replace("lp35", "lp3.5")] = scores
    return d


def _row(table, rater):
    return table.set_index("rater").loc[rater]


def test_bs1534_ten_percent_bad_reference_is_kept_twenty_percent_is_excluded():
    spec = {"ok": GOOD,
            "ten": _with(reference=[80] * 2 + [100] * 18),  # 10 % < 90
            "fifteen": _with(reference=[80] * 3 + [100] * 17),  # exactly 15 %: not "more than"
            "twenty": _with(reference=[80] * 4 + [100] * 16)}  # 20 % > 15 %
    t = S.screen(ratings_table(spec), "bs1534")
    assert not _row(t, "ok")["excluded"]
    assert not _row(t, "ten")["excluded"]
    assert _row(t, "ten")["reference_low_fraction"] == pytest.approx(0.10)
    assert not _row(t, "fifteen")["excluded"]
    assert _row(t, "twenty")["excluded"]
    assert "hidden reference < 90 on 4/20" in _row(t, "twenty")["reason"]


def test_bs1534_mid_anchor_rule_and_item_exception():
    # rater "hi" rates lp7 > 90 on items 0-3 (20 %): excluded ...
    spec = {f"r{i}": GOOD for i in range(6)}
    spec["hi"] = _with(lp7=[95] * 4 + [50] * 16)
    t = S.screen(ratings_table(spec), "bs1534")
    assert _row(t, "hi")["excluded"] and "anchor lp7" in _row(t, "hi")["reason"]
    # ... unless those items are ones where > 25 % of assessors rate the anchor > 90 (exception applies)
    spec2 = {f"r{i}": _with(lp7=[95] * 4 + [50] * 16) if i < 2 else GOOD for i in range(6)}
    spec2["hi"] = _with(lp7=[95] * 4 + [50] * 16)  # 3 of 7 assessors (43 %) rate items 0-3 high
    t2 = S.screen(ratings_table(spec2), "bs1534")
    assert t2.attrs["exempt_items"] == ["i0", "i1", "i2", "i3"]
    assert not t2["excluded"].any()


def test_encodec_preset_thresholds():
    spec = {"ok": GOOD,
            "ref20": _with(reference=[80] * 4 + [100] * 16),  # 20 %: ">= 20 %" excludes
            "ref15": _with(reference=[80] * 3 + [100] * 17),
            "low50": _with(lp35=[85] * 10 + [20] * 10),  # 50 % > 80: not "more than 50 %"
            "low55": _with(lp35=[85] * 11 + [20] * 9)}
    t = S.screen(ratings_table(spec), "encodec")
    assert list(t.loc[t["excluded"], "rater"]) == ["ref20", "low55"]
    assert "anchor lp3.5 > 80" in _row(t, "low55")["reason"]


def test_thresholds_are_configurable():
    spec = {"ten": _with(reference=[80] * 2 + [100] * 18)}
    cfg = S.preset("bs1534", reference_max_fraction=0.05)
    assert S.screen(ratings_table(spec), cfg)["excluded"].all()
    with pytest.raises(S.ScreeningError):
        S.preset("nope")
    with pytest.raises(S.ScreeningError):
        S.preset("bs1534", no_such_threshold=1)


def test_telemetry_flags_and_kept():
    spec = {"ok": GOOD, "flat": {c: [50] * 20 for c in GOOD}, "fast": GOOD, "deaf": GOOD}
    df = ratings_table(spec)
    df.loc[df["rater"] == "fast", "listen_ms"] = 300.0
    df.loc[(df["rater"] == "deaf") & (df["item"] == "i3"), "plays"] = 0
    t = S.screen(df, "bs1534")
    assert _row(t, "flat")["straight_lining"] and _row(t, "fast")["too_fast"] and _row(t, "deaf")["never_played"]
    assert _row(t, "ok")["flags"] == ""
    assert not _row(t, "fast")["excluded"]  # flags are reported, not applied by default
    t2 = S.screen(df, S.preset("bs1534", exclude_flagged=True))
    assert set(t2.loc[t2["excluded"], "rater"]) == {"flat", "fast", "deaf"}
    kept = S.kept(df, t2)
    assert set(kept["rater"]) == {"ok"}
    assert isinstance(kept, pd.DataFrame)
