"""``mushra prepare``: from a study file to ``DIR/manifest.json``, ``DIR/summary.md`` and every stimulus.

Phases: (1) up-front checks: every condition's codec is usable here and accepts its options (else fail before
any work, or skip with ``skip_unavailable``); (2) cache keys from content and settings only (codecs that can
say what determines their output without loading a model, such as SoundStream's checkpoint hash, are not
built), and the rated-stimulus guard; (3) reference excerpts (cached); (4) render every anchor and codec
condition in parallel (spawned worker processes keep their codec instances), cached by content; (5) per item,
in parallel: loudness alignment with the peak guard, residual lag, atomic WAV writes; (6) manifest and summary.
An unchanged re-run finds everything in ``DIR/.cache`` and builds no codec; an interrupted run redoes only what
is missing. A folder whose ratings database (``DIR/ratings.sqlite``) holds ratings is never changed in a way
that deletes or rewrites a rated stimulus: ``prepare`` refuses and says what to do.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path
from typing import Any, Callable

from harness import __version__
from harness.cache import Cache, cache_key
from harness.codecs import CodecError, CodecUnavailable, codec_availability, get_codec_class
from harness.codecs.base import RESAMPLER
from harness.errors import StudyError
from harness.files import atomic_write, file_sha256
from harness.manifest import Manifest
from harness.prepare.items import finalize_item, item_records, write_summary
from harness.prepare.jobs import ItemJob, Part, RenderJob, Signal
from harness.prepare.rated import ITEM_KEYS_SETTING, guard_rated_stimuli
from harness.prepare.workers import Finished, start_pool, render_signal
from harness.study.study import Study, load_study
from harness.vocabulary import HIDDEN_REFERENCE, ConditionKind

@dataclasses.dataclass(frozen=True)
class PrepareStats:
    codec_runs: int  # conditions rendered (codec or anchor work done) in this run
    cache_hits: int  # conditions found in the cache
    items_written: int  # items whose WAVs were (re)written
    items_unchanged: int  # items whose WAVs were already up to date
    seconds: float
    jobs: int


@dataclasses.dataclass(frozen=True)
class PrepareResult:
    manifest: Manifest
    folder: Path
    stats: PrepareStats
    warnings: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Cache keys of everything and what this run has to do."""

    reference_keys: dict[str, str]  # item -> key of its reference excerpt
    keys: dict[tuple[str, str], str]  # (item, condition) -> key of the rendered signal
    finals: dict[str, str]  # item -> key of the finished item
    items_todo: list  # ItemSpec of items whose WAVs are (re)written
    renders: list[tuple[str, Signal]]  # (item, signal) to render


def _codec_options(study: Study, c) -> dict[str, Any]:
    cls = get_codec_class(c.codec)
    options = dict(c.options)
    params = inspect.signature(cls.__init__).parameters
    if "channels" in params and "channels" not in options and study.channels in cls.channel_options:
        options["channels"] = study.channels  # multichannel codecs code the study's channel count
    return options


def _build_codec(study: Study, c, options: dict[str, Any]):
    """Build a condition's codec (checks its options); errors name the study file's line."""
    from harness.prepare.stimuli import codec_instance

    try:
        return codec_instance(c.codec, c.kbps, options)
    except TypeError as exc:
        raise StudyError(f"{study.where(c)}: condition '{c.id}': bad option for codec '{c.codec}' ({exc}). "
                         "See `mushra codecs` and docs/codecs.md for its options.") from None
    except CodecError as exc:
        raise CodecError(f"{study.where(c)}: condition '{c.id}': {exc}") from None


def _codec_signals(study: Study, *, skip_unavailable: bool) -> tuple[list[Signal], list[dict], list]:
    """Check every codec condition up front; returns ``(signals, skipped, conditions not yet built)``."""
    signals, skipped, unbuilt = [], [], []
    for c in study.conditions:
        cls = get_codec_class(c.codec)
        ok, reason = codec_availability(cls, **c.options)
        if not ok:
            if skip_unavailable:
                skipped.append({"condition": c.id, "codec": c.codec, "kbps": c.kbps, "reason": reason})
                warnings.warn(f"skipping condition '{c.id}': codec '{c.codec}' is not usable here: {reason}",
                              UserWarning, stacklevel=3)
                continue
            raise CodecUnavailable(f"{study.where(c)}: condition '{c.id}' needs codec '{c.codec}', which is not "
                                   f"usable here: {reason.rstrip('.')}. Fix that, remove the condition, or pass "
                                   "--skip-unavailable.")
        options = _codec_options(study, c)
        identity = cls.cache_identity(kbps=c.kbps, options=options)
        if identity is None:
            inst = _build_codec(study, c, options)
            identity = {"codec": c.codec, "kbps": c.kbps, "settings": inst.settings(), "versions": inst.versions()}
        else:
            unbuilt.append((c, options))
        signals.append(Signal(id=c.id, kind=ConditionKind.CODEC, codec=c.codec, kbps=c.kbps, options=options,
                              identity=identity))
    return signals, skipped, unbuilt


def _signals(study: Study, codec_signals: list[Signal]) -> list[Signal]:
    from harness.prepare.anchors import anchor_identity

    out = [Signal(id=HIDDEN_REFERENCE, kind=ConditionKind.REFERENCE, identity={"kind": "reference"})]
    out += [Signal(id=a, kind=ConditionKind.ANCHOR, anchor=a, identity=anchor_identity(a, study.sample_rate))
            for a in study.anchors]
    return out + codec_signals


def _plan(study: Study, signals: list[Signal], cache: Cache, out: Path, *, force: bool) -> _Plan:
    ref_keys = {i.id: cache_key(kind="excerpt", source_sha256=file_sha256(i.file), start=i.start, duration=i.duration,
                                excerpt_seconds=study.excerpt_seconds, sample_rate=study.sample_rate,
                                channels=study.channels, fade_ms=study.fade_ms, resampler=RESAMPLER,
                                harness=__version__) for i in study.items}
    keys = {(i.id, s.id): (ref_keys[i.id] if s.kind is ConditionKind.REFERENCE else
                           cache_key(kind="stimulus", reference=ref_keys[i.id], harness=__version__, **s.identity))
            for i in study.items for s in signals}
    finals = {i.id: cache_key(kind="item", parts=[keys[(i.id, s.id)] for s in signals], ids=[s.id for s in signals],
                              target=study.loudness_lufs, ceiling=study.peak_ceiling_dbfs, harness=__version__)
              for i in study.items}
    items_todo = [i for i in study.items if force or not _item_current(cache, finals[i.id], out)]
    renders = [(i.id, s) for i in items_todo for s in signals  # items already written need no rendering at all
               if s.kind is not ConditionKind.REFERENCE and (force or not cache.has(keys[(i.id, s.id)]))]
    return _Plan(reference_keys=ref_keys, keys=keys, finals=finals, items_todo=items_todo, renders=renders)


def prepare(study: Study | str | Path, out: str | Path, *, jobs: int | None = None, force: bool = False,
            skip_unavailable: bool = False, progress: bool = True) -> PrepareResult:
    """Generate every stimulus of ``study`` into ``out``; see the module docstring."""
    t0 = time.perf_counter()
    if not isinstance(study, Study):
        study = load_study(study)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cache = Cache(out / ".cache")
    jobs = max(1, int(jobs or os.cpu_count() or 1))
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        codec_signals, unavailable, unbuilt = _codec_signals(study, skip_unavailable=skip_unavailable)
    notes += [str(w.message) for w in caught]
    signals = _signals(study, codec_signals)
    plan = _plan(study, signals, cache, out, force=force)
    guard_rated_stimuli(out, study=study, signals=signals, finals=plan.finals)
    if plan.items_todo:  # there is work: build the codecs skipped for the keys now, so bad options fail early
        for c, options in unbuilt:
            _build_codec(study, c, options)
    results = _run(study, signals, plan, cache, out, jobs=jobs, force=force, progress=progress)
    for i in study.items:
        got = cache.get(plan.reference_keys[i.id], with_audio=False)
        notes += (got[1].get("warnings", []) if got else []) + results[i.id].get("warnings", [])
    for n in notes:
        warnings.warn(n, UserWarning, stacklevel=2)
    manifest = _write_outputs(study, signals, results, out, notes=notes, unavailable=unavailable,
                              finals=plan.finals)
    stats = PrepareStats(codec_runs=len(plan.renders),
                         cache_hits=len(study.items) * (len(signals) - 1) - len(plan.renders),
                         items_written=len(plan.items_todo), items_unchanged=len(study.items) - len(plan.items_todo),
                         seconds=time.perf_counter() - t0, jobs=jobs)
    atomic_write(out / ".cache" / "last_run.json", json.dumps(dataclasses.asdict(stats)))
    return PrepareResult(manifest=manifest, folder=out, stats=stats, warnings=tuple(notes))


def _cut_references(study: Study, plan: _Plan, cache: Cache, *, force: bool) -> None:
    """Reference excerpts of the items to write (validated here: bad audio fails before any codec work)."""
    from harness.prepare.stimuli import reference_excerpt

    for item in plan.items_todo:
        key = plan.reference_keys[item.id]
        if force or not cache.has(key):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                audio = reference_excerpt(file=item.file, item_id=item.id, start=item.start,
                                          duration=item.duration, excerpt_seconds=study.excerpt_seconds,
                                          sample_rate=study.sample_rate, channels=study.channels,
                                          fade_ms=study.fade_ms)
            cache.put(key, {"item": item.id, "frames": int(audio.shape[0]),
                            "warnings": [str(w.message) for w in caught]}, audio)


def _run(study: Study, signals: list[Signal], plan: _Plan, cache: Cache, out: Path, *, jobs: int, force: bool,
         progress: bool) -> dict[str, dict]:
    """Render and finish every item to do (in a pool when it pays); the records of every item."""
    from harness.progress import progress_bar

    results: dict[str, dict] = {}
    pool = None
    parent_finishes = jobs <= 2
    if jobs > 1 and len(plan.renders) + len(plan.items_todo) > 1:
        pool = start_pool(jobs)
    bar = None
    try:
        _cut_references(study, plan, cache, force=force)
        bar = progress_bar(total=len(plan.renders) + len(plan.items_todo), desc="prepare", unit="task",
                           enabled=progress)

        def run(fn: Callable, job):
            return pool.submit(fn, job) if pool else Finished(fn(job))

        def finalize(iid: str):
            job = _item_job(study, signals, plan, iid, cache_root=str(cache.root), out=str(out))
            # with up to 2 workers this process (otherwise idle) finishes items itself, so workers never import
            # scipy (pyloudnorm): ~1 CPU-s saved per worker; with more, workers do it (no bottleneck here)
            return Finished(finalize_item(job)) if parent_finishes else run(finalize_item, job)

        # an item is finished as soon as its own conditions are rendered (no barrier: workers stay busy)
        waiting = {i.id: 0 for i in plan.items_todo}
        for iid, _ in plan.renders:
            waiting[iid] += 1
        pending = {run(render_signal, RenderJob(cache_root=str(cache.root), reference_key=plan.reference_keys[iid],
                                                output_key=plan.keys[(iid, s.id)], sample_rate=study.sample_rate,
                                                signal=s, item=iid)): ("render", iid) for iid, s in plan.renders}
        pending.update({finalize(iid): ("item", iid) for iid, n in waiting.items() if n == 0})
        while pending:
            done = [f for f in pending if isinstance(f, Finished)]  # finished in this process: no waiting
            if not done:
                done = wait(list(pending), return_when=FIRST_COMPLETED)[0]
            for f in done:
                kind, iid = pending.pop(f)
                value = f.result()
                bar.update()
                if kind == "item":
                    results[iid] = value
                else:
                    waiting[iid] -= 1
                    if waiting[iid] == 0:
                        pending[finalize(iid)] = ("item", iid)
    finally:
        if bar is not None:
            bar.close()
        if pool:
            pool.shutdown(cancel_futures=True)
    for i in study.items:
        if i.id not in results:
            results[i.id] = cache.get(plan.finals[i.id], with_audio=False)[1]
    return results


def _item_job(study: Study, signals: list[Signal], plan: _Plan, iid: str, *, cache_root: str, out: str) -> ItemJob:
    return ItemJob(cache_root=cache_root, out=out, final_key=plan.finals[iid], item=iid,
                   parts=tuple(Part(condition=s.id, kind=s.kind, key=plan.keys[(iid, s.id)]) for s in signals),
                   sample_rate=study.sample_rate, target_lufs=study.loudness_lufs,
                   peak_ceiling_dbfs=study.peak_ceiling_dbfs)


def _write_outputs(study: Study, signals: list[Signal], results: dict[str, dict], out: Path, *, notes: list[str],
                   unavailable: list[dict], finals: dict[str, str]) -> Manifest:
    items, conditions, stimuli = item_records(study, signals, results)
    manifest = Manifest(
        study_name=study.name, study_hash=study.hash(), sample_rate=study.sample_rate, channels=study.channels,
        loudness_target_lufs=study.loudness_lufs, items=items, conditions=conditions, stimuli=stimuli,
        rater=study.rater_dict(),
        settings={"harness_version": __version__, "resampler": RESAMPLER, "format": "WAV PCM_16",
                  "loudness": "ITU-R BS.1770-4 integrated loudness (pyloudnorm)", **study.stimulus_settings(),
                  "item_loudness_lufs": {i.id: results[i.id]["target"] for i in study.items},
                  "study_file": study.path, "skipped_ladder_cells": [dict(s) for s in study.skipped],
                  "skipped_unavailable": unavailable, "warnings": notes, ITEM_KEYS_SETTING: dict(finals)},
    )
    manifest.save(out)
    write_summary(manifest, out / "summary.md")
    _remove_stale(out, manifest)
    return manifest


def _item_current(cache: Cache, key: str, out: Path) -> bool:
    """An item's WAVs are up to date: its record is cached and every file exists with the recorded hash."""
    got = cache.get(key, with_audio=False)
    if got is None:
        return False
    for rel, sha in got[1].get("files", {}).items():
        p = out / rel
        if not p.is_file() or file_sha256(p) != sha:
            return False
    return True


def _remove_stale(out: Path, manifest: Manifest) -> None:
    """Delete WAVs under stimuli/ and items/ that the manifest no longer lists (e.g. a removed condition)."""
    keep = {s.path for s in manifest.stimuli} | {i.reference for i in manifest.items}
    for sub in ("stimuli", "items"):
        for p in (out / sub).rglob("*.wav") if (out / sub).is_dir() else ():
            if p.relative_to(out).as_posix() not in keep:
                p.unlink()
