"""Bjontegaard delta (BD-rate and BD-quality) between rate-quality curves, with a cluster-bootstrap interval.

Method: G. Bjontegaard, "Calculation of average PSNR differences between RD-curves", ITU-T SG16 Q.6 VCEG-M33,
Austin, April 2001. Log-rate is interpolated as a function of quality for each codec; the average horizontal gap
between the two curves over the quality range *both* cover is ``D`` (log10 units), and

    BD-rate = (10 ** D - 1) * 100 %   (negative: the test codec needs fewer bits for the same quality).

BD-quality is the average vertical gap (test - baseline) in the quality's own unit over the log-rate range both
cover (positive: the test codec scores higher at equal rate).

Interpolation (``interpolation=``): ``"pchip"`` (default) is piecewise cubic Hermite interpolation (Fritsch-Carlson,
scipy ``PchipInterpolator``) through the points, integrated exactly; this is the later VCEG/JCT-VC practice
(VCEG-AL22, JCTVC-B055 piecewise cubic) and never overshoots between points. ``"cubic"`` is the original VCEG-M33
least-squares cubic polynomial fit (a polynomial of degree ``min(3, n - 1)``). Both reproduce an exact answer when
one curve is the other with every rate scaled by a constant.

Rates are the *measured* bitrates where known (``rate_basis`` says which). Intervals: percentile bootstrap that
resamples whole clusters with replacement (raters for MUSHRA, items for objective metrics) and recomputes every
curve point from the resample; replicates whose curves are not increasing are dropped and counted.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator

from harness.errors import HarnessError

INTERPOLATIONS = ("pchip", "cubic")
MONOTONE = ("strict", "isotonic")
N_RESAMPLES = 2000
CITATION = ("G. Bjontegaard, \"Calculation of average PSNR differences between RD-curves\", ITU-T SG16/Q6 "
            "VCEG-M33, Austin, TX, April 2001")
BD_COLUMNS = ("category", "baseline", "codec", "bd_rate_pct", "bd_rate_low", "bd_rate_high", "bd_quality",
              "bd_quality_low", "bd_quality_high", "quality_overlap_low", "quality_overlap_high", "n_points",
              "n_clusters", "resample_unit", "replicates_used", "rate_basis", "note")


class BDRateError(HarnessError):
    """The curves do not allow a Bjontegaard delta (too few points, no overlap, quality not increasing)."""


def _curve(rate, quality, name: str, *, monotone: str = "strict") -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rate, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if r.shape != q.shape or r.ndim != 1:
        raise BDRateError(f"{name}: rates and qualities must be 1-D and of equal length")
    ok = np.isfinite(r) & np.isfinite(q)
    r, q = r[ok], q[ok]
    if r.size < 2:
        raise BDRateError(f"{name}: needs at least 2 bitrates with a finite score (has {r.size})")
    if np.any(r <= 0):
        raise BDRateError(f"{name}: bitrates must be positive (kbps)")
    order = np.argsort(r)
    r, q = r[order], q[order]
    if np.any(np.diff(r) <= 0):
        raise BDRateError(f"{name}: two points share the bitrate {r[np.argmin(np.diff(r))]:g}")
    if monotone == "strict" and np.any(np.diff(q) <= 0):
        raise BDRateError(f"{name}: quality does not rise with bitrate ({', '.join(f'{a:g}' for a in q)} at "
                          f"{', '.join(f'{a:g}' for a in r)} kbps); a Bjontegaard delta needs an increasing curve "
                          "(monotone='isotonic' pools the points that fall)")
    return np.log10(r), q


def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fritsch-Carlson slopes as scipy's PchipInterpolator computes them, for rows of (B, n) points."""
    h = np.diff(x, axis=1)
    delta = np.diff(y, axis=1) / h
    n = x.shape[1]
    d = np.zeros_like(y)
    if n == 2:
        return np.repeat(delta, 2, axis=1)
    w1, w2 = 2 * h[:, 1:] + h[:, :-1], h[:, 1:] + 2 * h[:, :-1]
    same = (np.sign(delta[:, :-1]) == np.sign(delta[:, 1:])) & (delta[:, :-1] != 0) & (delta[:, 1:] != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = (w1 + w2) / (w1 / delta[:, :-1] + w2 / delta[:, 1:])
    d[:, 1:-1] = np.where(same, inner, 0.0)
    for end, (h0, h1, d0, d1) in ((0, (h[:, 0], h[:, 1], delta[:, 0], delta[:, 1])),
                                  (-1, (h[:, -1], h[:, -2], delta[:, -1], delta[:, -2]))):
        e = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
        e = np.where(np.sign(e) != np.sign(d0), 0.0, e)
        e = np.where((np.sign(d0) != np.sign(d1)) & (np.abs(e) > 3 * np.abs(d0)), 3 * d0, e)
        d[:, end] = e
    return d


def _pchip_integral(x: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Exact integral over [lo, hi] of the PCHIP interpolant of each row of (B, n) increasing ``x``."""
    d = _pchip_slopes(x, y)
    h = np.diff(x, axis=1)
    seg = h * (y[:, :-1] / 2 + h * d[:, :-1] / 12 + y[:, 1:] / 2 - h * d[:, 1:] / 12)
    cum = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(seg, axis=1)], axis=1)

    def upto(v):
        k = np.clip((x <= v[:, None]).sum(axis=1) - 1, 0, x.shape[1] - 2)
        r = np.arange(x.shape[0])
        hk = h[r, k]
        t = (v - x[r, k]) / hk
        t2, t3, t4 = t * t, t ** 3, t ** 4
        part = hk * ((t4 / 2 - t3 + t) * y[r, k] + (t4 / 4 - 2 * t3 / 3 + t2 / 2) * hk * d[r, k]
                     + (-t4 / 2 + t3) * y[r, k + 1] + (t4 / 4 - t3 / 3) * hk * d[r, k + 1])
        return cum[r, k] + part

    return upto(hi) - upto(lo)


def _poly_integral(x: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Integral over [lo, hi] of the least-squares cubic (VCEG-M33) of each row."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        anti = np.polynomial.Polynomial.fit(x[i], y[i], min(3, x.shape[1] - 1)).integ()
        out[i] = anti(hi[i]) - anti(lo[i])
    return out


def _pav(y: np.ndarray) -> np.ndarray:
    """Isotonic (non-decreasing) least-squares fit by pool-adjacent-violators, equal weights."""
    vals: list[float] = []
    wts: list[int] = []
    for v in y:
        vals.append(float(v))
        wts.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            w = wts[-2] + wts[-1]
            vals[-2:] = [(vals[-2] * wts[-2] + vals[-1] * wts[-1]) / w]
            wts[-2:] = [w]
    return np.repeat(vals, wts)


def isotonic(q: np.ndarray) -> np.ndarray:
    """Rows of (B, n) qualities made strictly increasing: PAV where a row falls, then ties broken by 1e-9 of the
    row's range (a pooled block reads as: that quality is reached at the block's lowest rate)."""
    q = np.array(q, dtype=np.float64, copy=True)
    bad = np.flatnonzero(np.any(np.diff(q, axis=1) <= 0, axis=1) & np.isfinite(q).all(axis=1))
    for i in bad:
        q[i] = _pav(q[i])
    eps = 1e-9 * (np.ptp(q, axis=1, keepdims=True) + 1.0)
    return q + eps * np.arange(q.shape[1])


def _batch(rb, qb, rt, qt, interpolation: str, *, monotone: str = "strict") -> tuple[np.ndarray, np.ndarray]:
    """BD-rate (%) and BD-quality for B replicate curves: ``rb``/``rt`` (n,) kbps, ``qb``/``qt`` (B, n).

    BD-quality interpolates quality over log-rate and needs no monotone curve. BD-rate inverts the curve:
    ``monotone="strict"`` gives NaN for a row whose quality does not rise; ``"isotonic"`` pools falling points
    (:func:`isotonic`) first. Rows whose ranges do not overlap give NaN."""
    if interpolation not in INTERPOLATIONS:
        raise BDRateError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    integral = _pchip_integral if interpolation == "pchip" else _poly_integral
    lb = np.broadcast_to(np.log10(rb), qb.shape)
    lt = np.broadcast_to(np.log10(rt), qt.shape)
    ok = np.isfinite(qb).all(axis=1) & np.isfinite(qt).all(axis=1)
    mb, mt = (isotonic(qb), isotonic(qt)) if monotone == "isotonic" else (qb, qt)
    ok_r = ok & np.all(np.diff(mb, axis=1) > 0, axis=1) & np.all(np.diff(mt, axis=1) > 0, axis=1)
    qlo, qhi = np.maximum(mb[:, 0], mt[:, 0]), np.minimum(mb[:, -1], mt[:, -1])
    ok_r &= qhi > qlo
    rate = np.full(qb.shape[0], np.nan)
    if ok_r.any():
        s = ok_r
        diff = (integral(mt[s], lt[s], qlo[s], qhi[s]) - integral(mb[s], lb[s], qlo[s], qhi[s])) / (qhi[s] - qlo[s])
        rate[s] = (10.0 ** diff - 1.0) * 100.0
    llo, lhi = max(lb[0, 0], lt[0, 0]), min(lb[0, -1], lt[0, -1])
    quality = np.full(qb.shape[0], np.nan)
    if lhi > llo and ok.any():
        lo, hi = np.full(int(ok.sum()), llo), np.full(int(ok.sum()), lhi)
        quality[ok] = (integral(lt[ok], qt[ok], lo, hi) - integral(lb[ok], qb[ok], lo, hi)) / (lhi - llo)
    return rate, quality


def _overlap(a: np.ndarray, b: np.ndarray, what: str) -> tuple[float, float]:
    lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
    if not hi > lo:
        raise BDRateError(f"the two curves' {what} ranges do not overlap ([{a.min():.3g}, {a.max():.3g}] vs "
                          f"[{b.min():.3g}, {b.max():.3g}]); no Bjontegaard delta")
    return float(lo), float(hi)


def _pair(baseline_rate, baseline_quality, test_rate, test_quality, monotone):
    if monotone not in MONOTONE:
        raise BDRateError(f"monotone must be one of {MONOTONE}, got {monotone!r}")
    lrb, qb = _curve(baseline_rate, baseline_quality, "baseline", monotone=monotone)
    lrt, qt = _curve(test_rate, test_quality, "test", monotone=monotone)
    return 10 ** lrb, qb, 10 ** lrt, qt


def bd_rate(*, baseline_rate, baseline_quality, test_rate, test_quality, interpolation: str = "pchip",
            monotone: str = "strict") -> float:
    """BD-rate in percent of the test curve against the baseline (rates in kbps; negative = fewer bits).

    ``monotone="strict"`` (VCEG-M33) refuses a curve whose quality falls; ``"isotonic"`` pools such points."""
    rb, qb, rt, qt = _pair(baseline_rate, baseline_quality, test_rate, test_quality, monotone)
    mb, mt = (isotonic(qb[None])[0], isotonic(qt[None])[0]) if monotone == "isotonic" else (qb, qt)
    _overlap(mb, mt, "quality")
    return float(_batch(rb, qb[None], rt, qt[None], interpolation, monotone=monotone)[0][0])


def bd_quality(*, baseline_rate, baseline_quality, test_rate, test_quality, interpolation: str = "pchip",
               monotone: str = "strict") -> float:
    """BD-quality: mean score difference (test - baseline) at equal rate, in the quality's unit."""
    rb, qb, rt, qt = _pair(baseline_rate, baseline_quality, test_rate, test_quality, monotone)
    _overlap(np.log10(rb), np.log10(rt), "log-rate")
    return float(_batch(rb, qb[None], rt, qt[None], interpolation, monotone=monotone)[1][0])


def _points(frame: pd.DataFrame, *, cluster: str, value: str):
    """Cluster x point sums and counts; points are (codec, kbps) with their rate (measured where known)."""
    d = frame.dropna(subset=[value, "codec", "kbps"])
    d = d[np.isfinite(d[value].astype(float))]
    rate = d["measured_kbps"].astype(float) if "measured_kbps" in d else pd.Series(np.nan, index=d.index)
    measured = bool(rate.notna().all()) and len(d) > 0
    keys = list(zip(d["codec"], d["kbps"].astype(float)))
    pts = sorted(set(keys), key=lambda k: (str(k[0]), k[1]))
    pidx = {k: i for i, k in enumerate(pts)}
    clusters = pd.Index(sorted(d[cluster].astype(str).unique()))
    ci = clusters.get_indexer(d[cluster].astype(str))
    pi = np.array([pidx[k] for k in keys], dtype=int)
    sums = np.zeros((len(clusters), len(pts)))
    counts = np.zeros((len(clusters), len(pts)))
    np.add.at(sums, (ci, pi), d[value].astype(float).to_numpy())
    np.add.at(counts, (ci, pi), 1.0)
    r = (rate.where(rate.notna(), d["kbps"].astype(float))).groupby(pi).mean().reindex(range(len(pts))).to_numpy()
    return pts, r, sums, counts, measured


def _row(cat, base, codec, pts, rates, full, boot, sign, interpolation, confidence, *, measured: bool,
         cluster: str, n_clusters: int) -> dict:
    """One table row: point estimates from all clusters, percentile interval from the replicate means."""
    bi = sorted((i for i, p in enumerate(pts) if p[0] == base), key=lambda i: rates[i])
    ti = sorted((i for i, p in enumerate(pts) if p[0] == codec), key=lambda i: rates[i])
    note = pooled = ""
    br = bq = qlo = qhi = math.nan
    try:
        kw = dict(baseline_rate=rates[bi], baseline_quality=full[bi], test_rate=rates[ti], test_quality=full[ti],
                  interpolation=interpolation, monotone="isotonic")
        br, bq = bd_rate(**kw), sign * bd_quality(**kw)
        qlo, qhi = _overlap(isotonic(full[bi][None])[0], isotonic(full[ti][None])[0], "quality")
        falls = [n for n, q in (("baseline", full[bi]), ("test", full[ti])) if np.any(np.diff(q) <= 0)]
        if falls:
            pooled = f"the {' and '.join(falls)} curve's quality falls with rate (saturation): pooled (isotonic)"
    except BDRateError as exc:
        note = str(exc)
    used, n_res = 0, boot.shape[0]
    rl = rh = ql = qh = math.nan
    if not note:
        reps_r, reps_q = _batch(rates[bi], boot[:, bi], rates[ti], boot[:, ti], interpolation, monotone="isotonic")
        used = int(np.isfinite(reps_r).sum())
        a = (1 - confidence) / 2
        if used:
            rl, rh = np.nanquantile(reps_r, [a, 1 - a])
            ql, qh = sorted(sign * np.nanquantile(reps_q, [a, 1 - a]))
        if used < n_res:
            note = (f"{n_res - used} of {n_res} resamples gave no overlapping range and were "
                    "dropped")
    n_points = min(len(bi), len(ti))
    if not note and n_points < 4:
        note = f"{n_points} bitrates per curve (VCEG-M33 assumes 4)"
    note = "; ".join(n for n in (pooled if not math.isnan(br) else "", note) if n)
    olo, ohi = (qlo, qhi) if sign > 0 else (-qhi, -qlo)
    return {"category": cat, "baseline": base, "codec": codec, "bd_rate_pct": br, "bd_rate_low": rl,
            "bd_rate_high": rh, "bd_quality": bq, "bd_quality_low": ql, "bd_quality_high": qh,
            "quality_overlap_low": olo, "quality_overlap_high": ohi, "n_points": n_points,
            "n_clusters": n_clusters, "resample_unit": cluster, "replicates_used": used,
            "rate_basis": "measured" if measured else "nominal (no measured bitrate)", "note": note}


def bd_table(frame: pd.DataFrame, *, value: str, cluster: str, baseline: str | None = None,
             interpolation: str = "pchip", n_resamples: int = N_RESAMPLES, seed: int = 0,
             confidence: float = 0.95, higher_is_better: bool = True) -> pd.DataFrame:
    """BD-rate and BD-quality of every codec against ``baseline`` per category, with cluster-bootstrap intervals.

    ``frame``: long rows with ``category, codec, kbps, measured_kbps`` (optional), ``value`` and ``cluster``
    (``rater`` for MUSHRA ratings, ``item`` for metric values). For a lower-is-better metric the quality is negated
    before fitting (``higher_is_better=False``) and BD-quality is reported back in the metric's own sign.
    """
    if interpolation not in INTERPOLATIONS:
        raise BDRateError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    rows = []
    codec_rows = frame[frame["codec"].notna() & frame["kbps"].notna()] if "codec" in frame else frame.iloc[:0]
    sign = 1.0 if higher_is_better else -1.0
    for cat, g in codec_rows.groupby("category", sort=True):
        codecs = sorted(g["codec"].astype(str).unique())
        base = baseline if baseline is not None else ("opus" if "opus" in codecs else (codecs[0] if codecs else None))
        if base not in codecs or len(codecs) < 2:
            continue
        pts, rates, sums, counts, measured = _points(g.assign(codec=g["codec"].astype(str)), cluster=cluster,
                                                     value=value)
        with np.errstate(invalid="ignore", divide="ignore"):
            full = sign * sums.sum(0) / counts.sum(0)
        rng = np.random.default_rng([seed, len(rows)])
        n_cl = sums.shape[0]
        w = rng.multinomial(n_cl, np.full(n_cl, 1.0 / n_cl), size=n_resamples).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = sign * (w @ sums) / (w @ counts)
        for codec in codecs:
            if codec != base:
                rows.append(_row(cat, base, codec, pts, rates, full, boot, sign, interpolation, confidence,
                                 measured=measured, cluster=cluster, n_clusters=n_cl))
    out = pd.DataFrame(rows, columns=list(BD_COLUMNS))
    out.attrs["method"] = (f"Bjontegaard delta (VCEG-M33), {interpolation} interpolation in log10 rate; "
                           f"{int(confidence * 100)} % percentile bootstrap over {cluster}s, {n_resamples} "
                           f"resamples, seed {seed}")
    return out
