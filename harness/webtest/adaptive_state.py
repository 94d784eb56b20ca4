"""The pure half of adaptive studies (see :mod:`harness.webtest.adaptive`): the study state computed from the
ratings that count, the category needs, and the choice of a new session's items."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
from typing import Any

import pandas as pd

from harness.ratings.models import utcnow
from harness.inference.sequential import MIN_RATERS, Targets, post_screen, precision_status, resolve_status
from harness.vocabulary import parse_resolve

OPEN, MET, BUDGET = "collecting", "every target met", "rater budget spent"


@dataclasses.dataclass(frozen=True)
class StudyState:
    """One evaluation of an adaptive study. ``precision``/``resolve``: tables from :mod:`harness.inference.sequential`;
    ``need``: category -> priority (0 when met); ``status``: :data:`OPEN`, :data:`MET` or :data:`BUDGET`."""

    computed_at: dt.datetime
    status: str
    precision: pd.DataFrame
    resolve: pd.DataFrame
    need: dict[str, float]
    raters_counted: int  # raters whose ratings enter the estimates (after screening)
    raters_screened: int  # removed by post-screening
    finished: int  # finished sessions (what the budget counts)
    in_flight: int
    max_raters: int | None

    @property
    def complete(self) -> bool:
        return self.status != OPEN

    def reason(self) -> str:
        """One line for the dashboard: why the study stopped, or how far it is."""
        if self.status == MET:
            return f"Complete: every target met with {self.raters_counted} raters counted ({self.finished} finished)."
        if self.status == BUDGET:
            open_ = int((~self.precision["met"]).sum()) + int((self.resolve["decision"] == "open").sum())
            return (f"Stopped: the budget of max_raters = {self.max_raters} raters is spent "
                    f"({self.finished} finished, {self.in_flight} in progress) with {open_} target(s) unmet.")
        met = int(self.precision["met"].sum()) + int((self.resolve["decision"] != "open").sum())
        total = len(self.precision) + len(self.resolve)
        return f"Collecting: {met} of {total} targets met; {self.finished} raters finished, {self.in_flight} in progress."


def targets_of(settings) -> Targets:
    return Targets(precision=settings.precision, resolve=tuple(parse_resolve(r) for r in settings.resolve),
                   equivalence_margin=settings.equivalence_margin, decision_error=settings.decision_error)


def _layout(study) -> tuple[dict[str, str], dict[str, list[str]]]:
    """item -> category, and category -> the codec conditions its items carry."""
    cat_of = {i.id: i.category for i in study.manifest.items}
    kinds = {c.id: c.kind for c in study.manifest.conditions}
    conds: dict[str, set[str]] = {}
    for item, cs in study.conditions.items():
        conds.setdefault(cat_of[item], set()).update(c for c in cs if kinds.get(c) == "codec")
    return cat_of, {k: sorted(v) for k, v in conds.items()}


def screen(frame: pd.DataFrame, settings) -> tuple[pd.DataFrame, int]:
    """Post-screening with the study's preset, as ``mushra analyze --study`` applies it by default: raters with
    flags (e.g. trials without listening evidence) are removed when the study sets ``[rater] exclude_flagged =
    true``, in the steering and in the analysis alike (a study with ``require_full_listening = true`` rejects such
    trials outright). Returns the kept ratings and the number of raters removed."""
    return post_screen(frame, preset=settings.screening, exclude_flagged=settings.exclude_flagged)


def evaluate(frame: pd.DataFrame, study, *, finished: int, in_flight: int, pending: dict[str, int],
             plan: bool = False) -> StudyState:
    """The study state from the ratings that count (pure; ``pending``: category -> raters in flight;
    ``plan``: also estimate the raters still needed, for the dashboard)."""
    settings = study.settings
    tg = targets_of(settings)
    _, conds = _layout(study)
    cats = sorted(conds)
    kept, n_screened = screen(frame, settings)
    if tg.precision is not None:
        prec = precision_status(kept, precision=tg.precision, categories=cats, codec_conditions=conds, plan=plan)
    else:
        prec = precision_status(kept.iloc[:0], precision=math.inf, categories=[], codec_conditions={})
    pair_cats = [c for c in cats if any(set(p) <= set(conds[c]) | {"reference", "lp3.5", "lp7"} for p in tg.resolve)]
    res = resolve_status(kept, tg.resolve, margin=tg.equivalence_margin, alpha=tg.decision_error,
                         categories=pair_cats)
    need: dict[str, float] = {}
    for cat in cats:
        p = pending.get(cat, 0)
        ratios = [math.inf if r.n_raters < 2 else max((r.half_width / r.target) ** 2 * r.n_raters / (r.n_raters + p),
                                                      MIN_RATERS / (r.n_raters + p))
                  for r in prec[(prec["category"] == cat) & ~prec["met"]].itertuples()]
        if ((res["category"] == cat) & (res["decision"] == "open")).any():
            ratios.append(1.0 + 1e-6)  # open decisions keep their category in play
        need[cat] = max(ratios, default=0.0)
    met = bool(prec["met"].all()) and not (res["decision"] == "open").any()
    cap = settings.max_raters
    status = MET if met else (BUDGET if cap is not None and finished >= cap else OPEN)
    return StudyState(computed_at=utcnow(), status=status, precision=prec, resolve=res, need=need,
                      raters_counted=int(kept["rater"].nunique()) if len(kept) else 0,
                      raters_screened=n_screened, finished=finished, in_flight=in_flight, max_raters=cap)


def choose_items(need: dict[str, float], cat_of: dict[str, str], load: dict[str, int], k: int,
                 rng: random.Random) -> list[str]:
    """``k`` items, one at a time: the category with the largest ``need / (1 + items it already got in this
    session)`` (so a session's trials follow the needs: all to the one unmet category, split when several are
    unmet), the least-loaded item in it (random tie-break); plain balancing once nothing is needed. Shuffled."""
    by_cat: dict[str, list[str]] = {}
    for item in sorted(load, key=lambda i: (load[i], rng.random())):
        by_cat.setdefault(cat_of[item], []).append(item)
    taken: dict[str, int] = {}
    chosen: list[str] = []
    while len(chosen) < k and any(by_cat.values()):
        live = [c for c, items in by_cat.items() if items]
        if any(need.get(c, 0.0) > 0 for c in live):
            cat = max(live, key=lambda c: (need.get(c, 0.0) / (1 + taken.get(c, 0)), rng.random()))
        else:  # every target met or covered: least-loaded item overall
            cat = min(live, key=lambda c: (load[by_cat[c][0]], rng.random()))
        chosen.append(by_cat[cat].pop(0))
        taken[cat] = taken.get(cat, 0) + 1
    rng.shuffle(chosen)
    return chosen


def dashboard(st: StudyState) -> dict[str, Any]:
    """Rows for the admin page: precision per (category, condition), decisions, and the status line."""
    prec = [{**r, "half_width": None if not math.isfinite(r["half_width"]) else r["half_width"],
             "mean": None if not math.isfinite(r["mean"]) else r["mean"]} for r in st.precision.to_dict("records")]
    res = [{**r, "cs_low": r["cs_low"] if math.isfinite(r["cs_low"]) else None,
            "cs_high": r["cs_high"] if math.isfinite(r["cs_high"]) else None,
            "difference": r["difference"] if math.isfinite(r["difference"]) else None}
           for r in st.resolve.to_dict("records")]
    return {"status": st.status, "reason": st.reason(), "precision": prec, "resolve": res,
            "computed_at": st.computed_at, "screened": st.raters_screened, "counted": st.raters_counted}
