"""Objective evaluation of a codec x bitrate ladder (``mushra evaluate``).

Cells are (item, codec, nominal kbps) over a folder of items, or (item, condition) over a prepared study (its
stimuli against the item's open reference). Each cell is coded with :func:`harness.codecs.transcode` and scored
with every requested metric. Cells run in parallel in spawn-started worker processes (each keeps its codecs and
ViSQOL models loaded: one load per worker), or on a Dask cluster. Results are cached content-addressed under
``OUT/.cache`` (key: sha256 of the input audio, codec, kbps, codec settings and versions, metric and its options,
harness version), so re-runs only compute what changed.

The results file ``OUT/evaluation.json`` is versioned (see :mod:`harness.analysis.results`) and holds the
settings and one row per (cell, metric); the same rows go to ``evaluation.csv`` and ``evaluation.parquet``.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import contextlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from harness.cache import Cache
from harness.files import AUDIO_SUFFIXES, file_sha256, json_sha256, scan_audio
from harness.vocabulary import condition_id
from harness.analysis.results import (  # noqa: F401  (re-exported)
    FORMAT, SCHEMA_VERSION, EvaluationError, _frame, read_results, write_results,
)



@dataclasses.dataclass(frozen=True)
class Cell:
    """One unit of work. ``degraded`` is set for study cells (stimulus file); else the codec produces it."""

    item: str
    category: str
    reference: str  # path of the clean audio
    codec: str | None
    kbps: float | None
    options: tuple[tuple[str, Any], ...] = ()
    degraded: str | None = None
    condition: str = ""
    measured_kbps: float | None = None
    metrics: tuple[str, ...] = ()
    metric_options: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    cache_dir: str | None = None


# --- worker side (module globals are per process: one codec/model load per worker) -------------------------
def _library_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for pkg in ("visqol-python", "numpy", "scipy", "soxr", "pesq", "pystoi", "speechmos", "onnxruntime"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = ""
    return out


_LIBRARIES = _library_versions()  # part of every cache key: a new metric library recomputes


def _codec(name: str, kbps: float, options: tuple):
    from harness.codecs import shared_codec  # one instance per worker process

    return shared_codec(name, kbps=kbps, options=dict(options))


def _source(cell: Cell) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """``(source identity for cache keys, codec info for the rows, codec or None)``. A codec that can state its
    identity without being built (:meth:`~harness.codecs.Codec.cache_identity`) is not built here."""
    info: dict[str, Any] = {"measured_kbps": cell.measured_kbps, "codec_versions": {}, "codec_settings": {}}
    if cell.degraded is not None:
        return {"degraded_sha256": file_sha256(cell.degraded)}, info, None
    from harness.codecs import get_codec_class

    ident = get_codec_class(cell.codec).cache_identity(kbps=float(cell.kbps), options=dict(cell.options))
    codec = None
    if ident is None:
        codec = _codec(cell.codec, float(cell.kbps), cell.options)
        ident = {"codec": cell.codec, "kbps": cell.kbps, "settings": codec.settings(), "versions": codec.versions()}
    info["codec_versions"], info["codec_settings"] = ident["versions"], ident["settings"]
    return {k: ident[k] for k in ("codec", "kbps", "settings", "versions")}, info, codec


def _keys(cell: Cell, source_id: dict[str, Any]) -> dict[str, str]:
    from harness import __version__

    ref_sha = file_sha256(cell.reference)
    mopts = dict(cell.metric_options)
    return {m: json_sha256({"reference_sha256": ref_sha, "source": source_id, "metric": m,
                            "metric_options": dict(mopts.get(m, ())), "harness": __version__,
                            "libraries": _LIBRARIES}) for m in cell.metrics}


def _cached(cell: Cell, keys: dict[str, str]) -> dict[str, dict[str, Any]]:
    """metric -> cached row (a damaged entry counts as missing and is recomputed)."""
    out: dict[str, dict[str, Any]] = {}
    if not cell.cache_dir:
        return out
    cache = Cache(cell.cache_dir)
    for m, key in keys.items():
        got = cache.get(key, with_audio=False)
        if got is not None:
            out[m] = {**got[1], "cached": True}
    return out


def cached_rows(cell: Cell) -> list[dict[str, Any]] | None:
    """Every row of ``cell`` from the cache, or ``None`` if any metric has to be computed (checked in the parent
    before any worker starts, so a fully cached re-run starts none)."""
    try:
        source_id, _info, _codec_obj = _source(cell)
    except Exception:  # noqa: BLE001 - the worker reports it with the cell's item and codec
        return None
    keys = _keys(cell, source_id)
    rows = _cached(cell, keys)
    return [rows[m] for m in cell.metrics] if len(rows) == len(keys) else None


def run_cell(cell: Cell) -> list[dict[str, Any]]:
    """Compute every metric of one cell (cached). Returns one row per metric; a cell that fails returns rows
    with ``value`` NaN and ``error`` saying what went wrong, naming the item and the codec or condition."""
    try:
        return _run_cell(cell)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - one bad cell must not lose the others
        what = cell.condition or condition_id(cell.codec, cell.kbps)
        msg = f"item '{cell.item}', {what}: {type(exc).__name__}: {' '.join(str(exc).split())}"
        return [{"item": cell.item, "category": cell.category, "condition": what, "codec": cell.codec,
                 "kbps": cell.kbps, "measured_kbps": cell.measured_kbps, "metric": m, "value": float("nan"),
                 "unit": "", "settings": {}, "version": "", "codec_settings": {}, "codec_versions": {},
                 "key": "", "cached": False, "error": msg} for m in cell.metrics]


def _run_cell(cell: Cell) -> list[dict[str, Any]]:
    from harness.analysis.metric_domains import content_of
    from harness.analysis.metrics import MetricError, compute
    from harness.audio import read_audio

    source_id, info, codec = _source(cell)
    keys = _keys(cell, source_id)
    cached = _cached(cell, keys)
    todo = [m for m in cell.metrics if m not in cached]
    mopts = dict(cell.metric_options)
    rows = [cached[m] for m in cell.metrics if m in cached]
    if todo:
        ref, sr = read_audio(cell.reference)
        if cell.degraded is None:
            codec = codec or _codec(cell.codec, float(cell.kbps), cell.options)
            res = _transcode(codec, ref, sr)
            deg, info["measured_kbps"] = res.audio, res.measured_kbps
            info["codec_versions"], info["codec_settings"] = codec.versions(), codec.settings()
        else:
            deg, dsr = read_audio(cell.degraded)
            if dsr != sr:
                from harness.audio import resample

                deg = resample(deg, dsr, sr)
        content = content_of(cell.category)
        for m in todo:
            row = {"item": cell.item, "category": cell.category, "condition": cell.condition or
                   condition_id(cell.codec, cell.kbps), "codec": cell.codec, "kbps": cell.kbps,
                   "measured_kbps": info["measured_kbps"], "metric": m, "codec_settings": info["codec_settings"],
                   "codec_versions": info["codec_versions"], "key": keys[m], "error": ""}
            try:
                r = compute(m, reference=ref, degraded=deg, sample_rate=sr, content=content,
                            **dict(mopts.get(m, ())))
            except MetricError as exc:  # this metric on this cell only; never a default number, not cached
                row.update(value=float("nan"), unit="", settings={"content": content}, version="",
                           error=f"item '{cell.item}', {row['condition']}: {exc}", cached=False)
                rows.append(row)
                continue
            row.update(value=r.value, unit=r.unit, settings={**r.settings, "content": content}, version=r.version)
            if cell.cache_dir is not None:
                Cache(cell.cache_dir).put(keys[m], row)
            row["cached"] = False
            rows.append(row)
    return rows


def _transcode(codec, audio, sr):
    from harness.codecs import transcode

    return transcode(codec, audio, sr)


# --- building the cells -------------------------------------------------------------------------------------
def _freeze(d: dict[str, Any] | None) -> tuple:
    return tuple(sorted((d or {}).items()))


def item_files(folder: str | Path) -> list[tuple[str, str, Path]]:
    """(item id, category, path) for every audio file under ``folder``; category = first sub-folder name."""
    root = Path(folder)
    if not root.is_dir():
        raise EvaluationError(f"{root}: items folder not found")
    files = scan_audio(root)
    if not files:
        raise EvaluationError(f"{root}: no audio files ({', '.join(AUDIO_SUFFIXES)}) found")
    out = []
    for p in files:
        rel = p.relative_to(root)
        category = rel.parts[0] if len(rel.parts) > 1 else "all"
        out.append((str(rel.with_suffix("")).replace(os.sep, "/"), category, p))
    return out


def ladder_cells(items: str | Path, codecs: Iterable[str], kbps: Iterable[float], metrics: Iterable[str], *,
                 codec_options: dict[str, dict[str, Any]] | None = None,
                 metric_options: dict[str, dict[str, Any]] | None = None, cache_dir: str | None = None
                 ) -> tuple[list[Cell], list[str]]:
    """Cells for a folder of items; returns (cells, notes about skipped rungs)."""
    from harness.codecs import codec_availability, get_codec_class

    notes, cells = [], []
    files = item_files(items)
    mo = tuple((m, _freeze((metric_options or {}).get(m))) for m in metrics)
    for name in codecs:
        cls = get_codec_class(name)
        ok, reason = codec_availability(cls, **(codec_options or {}).get(name, {}))
        if not ok:
            raise EvaluationError(f"codec '{name}' is not usable here: {reason}")
        rungs = cls.bitrates.ladder_points(list(kbps))
        for k in kbps:
            if k not in rungs:
                notes.append(f"{name} has no {k:g} kbps operating point ({cls.bitrates.describe()}): skipped")
        for k in rungs:
            for item, cat, path in files:
                cells.append(Cell(item=item, category=cat, reference=str(path), codec=name, kbps=float(k),
                                  options=_freeze((codec_options or {}).get(name)), metrics=tuple(metrics),
                                  metric_options=mo, cache_dir=cache_dir))
    if not cells:
        raise EvaluationError("nothing to evaluate: no codec supports any of the requested bitrates")
    return cells, notes


def study_cells(study_dir: str | Path, metrics: Iterable[str], *,
                metric_options: dict[str, dict[str, Any]] | None = None, cache_dir: str | None = None
                ) -> list[Cell]:
    """Cells for a prepared study: every stimulus against its item's open reference."""
    from harness.manifest import load_manifest

    manifest, folder = load_manifest(study_dir)
    items = {i.id: i for i in manifest.items}
    mo = tuple((m, _freeze((metric_options or {}).get(m))) for m in metrics)
    cells = []
    for s in manifest.stimuli:
        it = items[s.item]
        cells.append(Cell(item=s.item, category=it.category, reference=str(folder / it.reference),
                          codec=s.codec, kbps=s.nominal_kbps, degraded=str(folder / s.path), condition=s.condition,
                          measured_kbps=s.measured_kbps, metrics=tuple(metrics), metric_options=mo,
                          cache_dir=cache_dir))
    return cells


# --- running ------------------------------------------------------------------------------------------------
_THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _worker_thread_env(threads: int):
    """Thread limits in the environment that spawned workers inherit. BLAS/OpenMP read them once, when the
    worker first imports numpy (before any initializer runs), so setting them inside the worker is too late."""
    saved = {v: os.environ.get(v) for v in _THREAD_VARS}
    os.environ.update({v: str(threads) for v in _THREAD_VARS})
    try:
        yield
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def _init_worker(threads: int) -> None:
    """Limit each worker's numeric threads (numba in ViSQOL, torch, BLAS) so workers do not oversubscribe cores."""
    import sys

    from harness.progress import ignore_interrupts

    ignore_interrupts()
    if "numba" in sys.modules:
        sys.modules["numba"].set_num_threads(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def run_cells(cells: list[Cell], *, jobs: int = 1, scheduler: str | Any | None = None, progress: bool = True,
              pool: bool | None = None, threads_per_worker: int | None = None) -> pd.DataFrame:
    """Run cells locally or on a Dask scheduler (address or ``Client``).

    Locally ``jobs`` spawn-started worker processes share the cores (each limited to ``threads_per_worker``
    numeric threads, default ``cores // jobs``); ``jobs=1`` runs in this process unless ``pool=True``."""
    from harness.progress import progress_bar

    rows: list[dict[str, Any]] = []
    todo = []
    for c in cells:  # cached cells never start a worker
        got = cached_rows(c) if scheduler is None else None
        if got is None:
            todo.append(c)
        else:
            rows.extend(got)
    cells = todo
    bar = progress_bar(total=len(cells), desc="evaluate", unit="cell", enabled=progress)
    if not cells:
        bar.close()
        return _frame(rows)
    try:
        if scheduler is not None:
            rows = _run_dask(cells, scheduler, bar)
        elif (jobs <= 1 or len(cells) <= 1) and not pool:
            for c in cells:
                rows.extend(run_cell(c))
                bar.update(1)
        else:
            jobs = max(1, min(jobs, len(cells)))
            ctx = multiprocessing.get_context("spawn")
            threads = threads_per_worker or max(1, (os.cpu_count() or 1) // max(1, jobs))
            with _worker_thread_env(threads), ProcessPoolExecutor(
                    max_workers=max(1, jobs), mp_context=ctx, initializer=_init_worker, initargs=(threads,)) as executor:
                futures = [executor.submit(run_cell, c) for c in cells]
                for f in as_completed(futures):
                    rows.extend(f.result())
                    bar.update(1)
    finally:
        bar.close()
    return _frame(rows)


def _run_dask(cells, scheduler, bar) -> list[dict[str, Any]]:
    from harness.extras import require

    require("distributed", purpose="evaluate --scheduler (Dask)")
    from distributed import Client, as_completed as dask_completed

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures = client.map(run_cell, cells, pure=False)
        rows = []
        for f in dask_completed(futures):
            rows.extend(f.result())
            bar.update(1)
        return rows
    finally:
        if client is not scheduler:
            client.close()


def evaluate(*, items: str | Path | None = None, study: str | Path | None = None, codecs=(), kbps=(),
             metrics=("si-snr",), out_dir: str | Path, jobs: int = 1, scheduler=None, use_cache: bool = True,
             codec_options: dict[str, dict[str, Any]] | None = None,
             metric_options: dict[str, dict[str, Any]] | None = None, progress: bool = True,
             pool: bool | None = None, threads_per_worker: int | None = None
             ) -> tuple[pd.DataFrame, dict[str, Path], list[str]]:
    """The whole job: build cells, run them, write results. Returns (rows, paths, notes)."""
    from harness.analysis.metrics import METRICS

    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise EvaluationError(f"unknown metric(s) {bad}; choose from {', '.join(METRICS)}")
    if (items is None) == (study is None):
        raise EvaluationError("give exactly one of --items DIR or --study DIR")
    cache_dir = str(Path(out_dir) / ".cache") if use_cache else None
    notes: list[str] = []
    if items is not None:
        if not codecs or not kbps:
            raise EvaluationError("--items needs at least one --codec and a --kbps ladder (e.g. --kbps 6,12,24)")
        cells, notes = ladder_cells(items, codecs, kbps, metrics, codec_options=codec_options,
                                    metric_options=metric_options, cache_dir=cache_dir)
    else:
        cells = study_cells(study, metrics, metric_options=metric_options, cache_dir=cache_dir)
    df = run_cells(cells, jobs=jobs, scheduler=scheduler, progress=progress, pool=pool,
                   threads_per_worker=threads_per_worker)
    settings = {"source": {"items": str(items)} if items is not None else {"study": str(study)},
                "codecs": list(codecs), "kbps": [float(k) for k in kbps], "metrics": list(metrics),
                "codec_options": codec_options or {}, "metric_options": metric_options or {},
                "resampler": "soxr VHQ", "cells": len(cells), "cache_hits": int(df["cached"].sum())}
    failed = df[df["error"] != ""].drop_duplicates(["item", "condition"])
    settings["failed_cells"] = int(len(failed))
    notes += [f"cell failed (its rows have value NaN and this error): {e}" for e in failed["error"]]
    paths = write_results(df, out_dir, settings)
    return df, paths, notes
