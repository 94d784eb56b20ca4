"""``mushra prepare``: from a study file to ``DIR/manifest.json``, ``DIR/summary.md`` and every stimulus.

Phases: (1) up-front checks: every condition's codec is usable here and accepts its options (else fail before
any work, or skip with ``skip_unavailable``); (2) reference excerpts (cached); (3) render every anchor and codec
condition in parallel (spawned worker processes keep their codec instances), cached by content;
(4) per item, in parallel: loudness alignment with the peak guard, residual lag, atomic WAV writes; (5) manifest
and summary. An unchanged re-run finds everything in ``DIR/.cache`` and does no codec work; an interrupted run
redoes only what is missing.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable

from harness import __version__
from harness.cache import Cache, cache_key
from harness.codecs import CodecError, CodecUnavailable, get_codec_class
from harness.codecs.base import RESAMPLER
from harness.errors import StudyError
from harness.manifest import Manifest
from harness.prepare.items import finalize_item, item_records, write_summary
from harness.study.study import Study, file_sha256, load_study


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


def _render_task(cache_root: str, ref_key: str, out_key: str, sample_rate: int, spec: dict[str, Any],
                 label: dict[str, str]) -> dict:
    """Worker: render one (item, condition) into the cache. Module-level so spawn can import it."""
    from harness.prepare.stimuli import render

    cache = Cache(cache_root)
    got = cache.get(ref_key)
    if got is None:
        raise RuntimeError(f"reference excerpt {ref_key} missing from the cache")
    audio, meta = render(got[0], sample_rate, **spec)
    cache.put(out_key, {**meta, **label}, audio)
    return meta


def _prepare_codecs(study: Study, skip_unavailable: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Check every codec condition up front; returns ``(specs, skipped)``."""
    from harness.prepare.stimuli import codec_instance

    specs, skipped = [], []
    for c in study.conditions:
        cls = get_codec_class(c.codec)
        ok, reason = cls.availability(**c.options)
        if not ok:
            if skip_unavailable:
                skipped.append({"condition": c.id, "codec": c.codec, "kbps": c.kbps, "reason": reason})
                warnings.warn(f"skipping condition '{c.id}': codec '{c.codec}' is not usable here: {reason}",
                              UserWarning, stacklevel=3)
                continue
            raise CodecUnavailable(f"{study.where(c)}: condition '{c.id}' needs codec '{c.codec}', which is not "
                                   f"usable here: {reason.rstrip('.')}. Fix that, remove the condition, or pass --skip-unavailable.")
        options = dict(c.options)
        params = inspect.signature(cls.__init__).parameters
        if "channels" in params and "channels" not in options and study.channels in cls.channel_options:
            options["channels"] = study.channels  # multichannel codecs code the study's channel count
        try:
            inst = codec_instance(c.codec, c.kbps, options)
        except TypeError as exc:
            raise StudyError(f"{study.where(c)}: condition '{c.id}': bad option for codec '{c.codec}' ({exc}). "
                             "See `mushra codecs` and docs/codecs.md for its options.") from None
        except CodecError as exc:
            raise CodecError(f"{study.where(c)}: condition '{c.id}': {exc}") from None
        specs.append({"id": c.id, "kind": "codec", "codec": c.codec, "kbps": c.kbps, "options": options,
                      "identity": {"codec": c.codec, "kbps": c.kbps, "settings": inst.settings(),
                                   "versions": inst.versions()}})
    return specs, skipped


def prepare(study: Study | str | Path, out: str | Path, *, jobs: int | None = None, force: bool = False,
            skip_unavailable: bool = False, progress: bool = True) -> PrepareResult:
    """Generate every stimulus of ``study`` into ``out``; see the module docstring."""
    from tqdm import tqdm

    from harness.prepare.anchors import anchor_identity
    from harness.prepare.stimuli import reference_excerpt

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
        codec_specs, unavailable = _prepare_codecs(study, skip_unavailable)
    notes += [str(w.message) for w in caught]
    specs = [{"id": "reference", "kind": "reference", "identity": {"kind": "reference"}}]
    specs += [{"id": a, "kind": "anchor", "anchor": a, "identity": anchor_identity(a, study.sample_rate)}
              for a in study.anchors]
    specs += codec_specs

    # keys first (they need only the sources' hashes), so the pool can start while excerpts are cut
    ref_keys = {i.id: cache_key(kind="excerpt", source_sha256=file_sha256(i.file), start=i.start, duration=i.duration,
                                excerpt_seconds=study.excerpt_seconds, sample_rate=study.sample_rate,
                                channels=study.channels, fade_ms=study.fade_ms, resampler=RESAMPLER,
                                harness=__version__) for i in study.items}
    keys = {(i.id, s["id"]): (ref_keys[i.id] if s["kind"] == "reference" else
                              cache_key(kind="stimulus", reference=ref_keys[i.id], harness=__version__, **s["identity"]))
            for i in study.items for s in specs}
    finals = {i.id: cache_key(kind="item", parts=[keys[(i.id, s["id"])] for s in specs], ids=[s["id"] for s in specs],
                              target=study.loudness_lufs, ceiling=study.peak_ceiling_dbfs, harness=__version__)
              for i in study.items}
    item_todo = [i for i in study.items if force or not _item_current(cache, finals[i.id], out)]
    todo = [(i.id, s) for i in item_todo for s in specs  # items already written need no rendering at all
            if s["kind"] != "reference" and (force or not cache.has(keys[(i.id, s["id"])]))]
    hits = len(study.items) * (len(specs) - 1) - len(todo)
    results: dict[str, dict] = {}
    pool = None
    parent_finishes = jobs <= 2
    if jobs > 1 and len(todo) + len(item_todo) > 1:
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"))
        for _ in range(jobs):  # workers import numpy/scipy/codecs while this process cuts the excerpts
            pool.submit(_warm_up)
    bar = None
    try:
        def run(fn: Callable, *args):
            return pool.submit(fn, *args) if pool else _Done(fn(*args))

        for item in item_todo:  # (2) reference excerpts (validated here: bad audio fails before codec work)
            key = ref_keys[item.id]
            if force or not cache.has(key):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    audio = reference_excerpt(file=item.file, item_id=item.id, start=item.start,
                                              duration=item.duration, excerpt_seconds=study.excerpt_seconds,
                                              sample_rate=study.sample_rate, channels=study.channels,
                                              fade_ms=study.fade_ms)
                cache.put(key, {"item": item.id, "frames": int(audio.shape[0]),
                                "warnings": [str(w.message) for w in caught]}, audio)
        bar = tqdm(total=len(todo) + len(item_todo), desc="prepare", unit="task", disable=not progress, leave=False)

        def render_spec(s: dict) -> dict:
            return {k: v for k, v in s.items() if k in ("kind", "anchor", "codec", "kbps", "options")}

        def finalize(iid: str):
            args = (str(cache.root), str(out), finals[iid], iid, [(s["id"], s["kind"], keys[(iid, s["id"])])
                                                                   for s in specs], study.sample_rate,
                    study.loudness_lufs, study.peak_ceiling_dbfs)
            # with up to 2 workers this process (otherwise idle) finishes items itself, so workers never import
            # scipy (pyloudnorm): ~1 CPU-s saved per worker; with more, workers do it (no bottleneck here)
            return _Done(finalize_item(*args)) if parent_finishes else run(finalize_item, *args)

        # an item is finished as soon as its own conditions are rendered (no barrier: workers stay busy)
        waiting = {i.id: 0 for i in item_todo}
        for iid, _ in todo:
            waiting[iid] += 1
        pending = {run(_render_task, str(cache.root), ref_keys[iid], keys[(iid, s["id"])], study.sample_rate,
                       render_spec(s), {"item": iid, "condition": s["id"]}): ("render", iid) for iid, s in todo}
        pending.update({finalize(iid): ("item", iid) for iid, n in waiting.items() if n == 0})
        while pending:
            done = [f for f in pending if isinstance(f, _Done)]  # finished in this process: no waiting
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
            results[i.id] = cache.get(finals[i.id], with_audio=False)[1]
    for i in study.items:
        got = cache.get(ref_keys[i.id], with_audio=False)
        notes += (got[1].get("warnings", []) if got else []) + results[i.id].get("warnings", [])
    for n in notes:
        warnings.warn(n, UserWarning, stacklevel=2)

    items, conditions, stimuli = item_records(study, specs, results, out)
    manifest = Manifest(
        study_name=study.name, study_hash=study.hash(), sample_rate=study.sample_rate, channels=study.channels,
        loudness_target_lufs=study.loudness_lufs, items=items, conditions=conditions, stimuli=stimuli,
        rater=study.rater_dict(),
        settings={"harness_version": __version__, "resampler": RESAMPLER, "format": "WAV PCM_16",
                  "loudness": "ITU-R BS.1770-4 integrated loudness (pyloudnorm)", **study.stimulus_settings(),
                  "item_loudness_lufs": {i.id: results[i.id]["target"] for i in study.items},
                  "study_file": study.path, "skipped_ladder_cells": [dict(s) for s in study.skipped],
                  "skipped_unavailable": unavailable, "warnings": notes},
    )
    manifest.save(out)
    write_summary(manifest, out / "summary.md")
    _remove_stale(out, manifest)
    stats = PrepareStats(codec_runs=len(todo), cache_hits=hits, items_written=len(item_todo),
                         items_unchanged=len(study.items) - len(item_todo), seconds=time.perf_counter() - t0, jobs=jobs)
    (out / ".cache" / "last_run.json").write_text(json.dumps(dataclasses.asdict(stats)))
    return PrepareResult(manifest=manifest, folder=out, stats=stats, warnings=tuple(notes))


def _warm_up() -> None:
    """Worker start-up: import what rendering needs while the parent cuts the excerpts."""
    import harness.prepare.stimuli  # noqa: F401
    from harness.codecs import codec_names

    codec_names()


class _Done:
    """A finished result with the Future interface (the ``jobs=1`` path runs in-process)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value

    def done(self) -> bool:
        return True


def _item_current(cache: Cache, key: str, out: Path) -> bool:
    """An item's WAVs are up to date: its record is cached and every file exists with the recorded hash."""
    got = cache.get(key, with_audio=False)
    if got is None:
        return False
    from harness.study.study import file_sha256

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
