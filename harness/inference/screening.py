"""Post-screening of assessors, as presets with configurable thresholds.

``bs1534`` (ITU-R BS.1534-3, sec. 4.1.2): exclude an assessor who rates the hidden reference below 90 for more than
15 % of the items they rated, or the mid anchor (``lp7``, 7 kHz low-pass) above 90 for more than 15 % of items; the
anchor rule is not applied to an item where more than 25 % of assessors rate that anchor above 90.

``encodec`` (Défossez et al. 2022, "High Fidelity Neural Audio Compression", sec. 4.2): exclude raters who rate the
reference below 90 in at least 20 % of cases, or the low anchor (``lp3.5``) above 80 in more than 50 % of cases.

Telemetry flags (reported; they exclude only with ``exclude_flagged=True``): ``never_played`` (submitted a rating
for a stimulus with 0 plays), ``too_fast`` (median listening time per rating below ``min_listen_ms``),
``straight_lining`` (in more than ``straightline_fraction`` of their trials all scores lie within
``straightline_range`` points), ``server_flagged`` (a trial the web server flagged as submitted without its
audio downloaded, or sooner than it can be heard: ``trial_flags`` in the ratings).

A common mistake elsewhere is excluding every rater with a single reference score below 90; the rules here are
fractions of the items each assessor rated.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from harness.errors import HarnessError
from harness.vocabulary import LOW_ANCHOR, MID_ANCHOR, ScreeningPreset

_EPS = 1e-12
FLAGS = ("never_played", "too_fast", "straight_lining", "server_flagged")


@dataclasses.dataclass(frozen=True)
class ScreeningConfig:
    name: str
    reference_below: float = 90.0
    reference_max_fraction: float = 0.15
    reference_inclusive: bool = False  # True: exclude when fraction >= max ("at least"), False: when > max
    anchor: str = MID_ANCHOR
    anchor_above: float = 90.0
    anchor_max_fraction: float = 0.15
    anchor_inclusive: bool = False
    item_exception_fraction: float | None = 0.25  # skip the anchor rule on items where > this share rate it high
    citation: str = ""
    min_listen_ms: float = 1000.0
    straightline_range: float = 5.0
    straightline_fraction: float = 0.5
    exclude_flagged: bool = False

    def describe(self) -> str:
        ref_op = ">=" if self.reference_inclusive else ">"
        anc_op = ">=" if self.anchor_inclusive else ">"
        s = (f"{self.name}: exclude if hidden reference < {self.reference_below:g} in {ref_op} "
             f"{100 * self.reference_max_fraction:g} % of rated items, or anchor {self.anchor} > "
             f"{self.anchor_above:g} in {anc_op} {100 * self.anchor_max_fraction:g} %")
        if self.item_exception_fraction is not None:
            s += (f" (anchor rule skipped on items where > {100 * self.item_exception_fraction:g} % of assessors "
                  f"rate the anchor > {self.anchor_above:g})")
        return s + (f" [{self.citation}]" if self.citation else "")


PRESETS: dict[str, ScreeningConfig] = {
    ScreeningPreset.BS1534.value: ScreeningConfig(name=ScreeningPreset.BS1534.value, citation="ITU-R BS.1534-3 sec. 4.1.2"),
    ScreeningPreset.ENCODEC.value: ScreeningConfig(
        name=ScreeningPreset.ENCODEC.value, reference_below=90.0, reference_max_fraction=0.20, reference_inclusive=True,
        anchor=LOW_ANCHOR, anchor_above=80.0, anchor_max_fraction=0.50, anchor_inclusive=False,
        item_exception_fraction=None, citation="Défossez et al. 2022, EnCodec, sec. 4.2"),
}


class ScreeningError(HarnessError):
    """Unknown preset or bad thresholds."""


def preset(name: str, **overrides) -> ScreeningConfig:
    """A preset by name, with thresholds overridden by keyword."""
    if name not in PRESETS:
        raise ScreeningError(f"unknown screening preset '{name}'; choose one of {', '.join(PRESETS)}")
    try:
        return dataclasses.replace(PRESETS[name], **overrides)
    except TypeError as exc:
        raise ScreeningError(f"bad screening override: {exc}") from exc


def _exceeds(frac: pd.Series, limit: float, inclusive: bool) -> pd.Series:
    return frac >= limit - _EPS if inclusive else frac > limit + _EPS


def exempt_items(frame: pd.DataFrame, config: ScreeningConfig) -> list[str]:
    """Items where more than ``item_exception_fraction`` of assessors rate the anchor above the threshold."""
    if config.item_exception_fraction is None:
        return []
    a = frame[frame["condition"] == config.anchor]
    if a.empty:
        return []
    per = (a["score"] > config.anchor_above).groupby([a["item"], a["rater"]]).mean() > 0.5
    share = per.groupby(level=0).mean()
    return sorted(share[share > config.item_exception_fraction + _EPS].index.astype(str))


def screen(frame: pd.DataFrame, config: ScreeningConfig | str = "bs1534") -> pd.DataFrame:
    """Per-rater table: counts, fractions, telemetry flags, ``excluded`` (bool) and ``reason`` (str)."""
    cfg = preset(config) if isinstance(config, str) else config
    raters = pd.Index(pd.unique(frame["rater"]), name="rater")
    out = pd.DataFrame(index=raters)
    out["n_ratings"] = frame.groupby("rater").size()
    out["n_items"] = frame.groupby("rater")["item"].nunique()

    ref = frame[frame["kind"] == "reference"]
    g = (ref["score"] < cfg.reference_below).groupby(ref["rater"])
    out["reference_n"] = g.size()
    out["reference_low"] = g.sum()
    exempt = exempt_items(frame, cfg)
    anc = frame[(frame["condition"] == cfg.anchor) & ~frame["item"].isin(exempt)]
    g = (anc["score"] > cfg.anchor_above).groupby(anc["rater"])
    out["anchor_n"] = g.size()
    out["anchor_high"] = g.sum()
    out = out.fillna({"reference_n": 0, "reference_low": 0, "anchor_n": 0, "anchor_high": 0})
    for c in ("reference_n", "reference_low", "anchor_n", "anchor_high"):
        out[c] = out[c].astype(int)
    out["reference_low_fraction"] = out["reference_low"] / out["reference_n"].where(out["reference_n"] > 0)
    out["anchor_high_fraction"] = out["anchor_high"] / out["anchor_n"].where(out["anchor_n"] > 0)
    ref_bad = _exceeds(out["reference_low_fraction"].fillna(0.0), cfg.reference_max_fraction, cfg.reference_inclusive)
    anc_bad = _exceeds(out["anchor_high_fraction"].fillna(0.0), cfg.anchor_max_fraction, cfg.anchor_inclusive)
    ref_bad &= out["reference_n"] > 0
    anc_bad &= out["anchor_n"] > 0

    # telemetry
    plays = frame["plays"] if "plays" in frame else pd.Series(-1, index=frame.index)
    out["never_played"] = (plays == 0).groupby(frame["rater"]).sum().reindex(raters).fillna(0).astype(int) > 0
    if "listen_ms" in frame:
        med = frame["listen_ms"].groupby(frame["rater"]).median().reindex(raters)
        out["median_listen_ms"] = med
        out["too_fast"] = med.notna() & (med < cfg.min_listen_ms)
    else:
        out["median_listen_ms"], out["too_fast"] = np.nan, False
    # the web server's listening evidence (trial_flags: not_fetched / too_fast, see docs/webapp.md)
    tflags = frame["trial_flags"].fillna("").astype(str) if "trial_flags" in frame else pd.Series("", index=frame.index)
    out["server_flagged"] = (tflags != "").groupby(frame["rater"]).any().reindex(raters).fillna(False).astype(bool)
    trials = frame.groupby(["rater", "item"])["score"].agg(["min", "max", "size"])
    trials = trials[trials["size"] >= 3]
    flat = (trials["max"] - trials["min"]) <= cfg.straightline_range
    flat_frac = flat.groupby(level=0).mean().reindex(raters)
    out["straight_lining"] = flat_frac.fillna(0.0) > cfg.straightline_fraction + _EPS

    reasons = []
    for r, rb, ab in zip(out.itertuples(), ref_bad, anc_bad):
        why = []
        if rb:
            why.append(f"hidden reference < {cfg.reference_below:g} on {r.reference_low}/{r.reference_n} items "
                       f"({100 * r.reference_low_fraction:.0f} %)")
        if ab:
            why.append(f"anchor {cfg.anchor} > {cfg.anchor_above:g} on {r.anchor_high}/{r.anchor_n} items "
                       f"({100 * r.anchor_high_fraction:.0f} %)")
        flags = [f for f in FLAGS if getattr(r, f)]
        if cfg.exclude_flagged:
            why.extend(flags)
        reasons.append("; ".join(why))
    out["flags"] = [",".join(f for f in FLAGS if row[f])
                    for _, row in out[list(FLAGS)].iterrows()]
    out["reason"] = reasons
    out["excluded"] = out["reason"] != ""
    out["preset"] = cfg.name
    ids = [c for c in frame.columns if c == "session" or str(c).startswith("participant_")]
    if ids:  # who the rater is, so an exclusion can be acted on (paying, rejecting)
        for c in ids:
            d = frame[["rater", c]].drop_duplicates()
            out[c] = d.groupby("rater", sort=False)[c].agg(lambda v: ";".join(map(str, v))).reindex(raters)
    out.attrs["exempt_items"] = exempt
    out.attrs["config"] = dataclasses.asdict(cfg)
    return out.reset_index()


def kept(frame: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The ratings of raters not excluded by ``table`` (from :func:`screen`)."""
    gone = set(table.loc[table["excluded"], "rater"])
    return frame[~frame["rater"].isin(gone)].reset_index(drop=True)
