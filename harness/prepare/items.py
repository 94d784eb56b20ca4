"""Per-item finishing of ``mushra prepare`` (loudness alignment, lag check, WAV writes) and the records,
manifest pieces and ``summary.md`` built from the results."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from harness.cache import Cache
from harness.files import atomic_write, file_sha256
from harness.manifest import HIDDEN_REFERENCE, ConditionRecord, ItemRecord, Manifest, StimulusRecord
from harness.prepare.jobs import ItemJob, Signal
from harness.vocabulary import LOW_ANCHOR, MID_ANCHOR, ConditionKind

ANCHOR_LABELS = {LOW_ANCHOR: "low anchor (low-pass 3.5 kHz)", MID_ANCHOR: "mid anchor (low-pass 7 kHz)"}


def stimulus_path(item: str, condition: str) -> str:
    return f"stimuli/{item}/{condition}.wav"


def reference_path(item: str) -> str:
    return f"items/{item}/reference.wav"


def finalize_item(job: ItemJob) -> dict[str, Any]:
    """Worker: align one item's stimuli in loudness, measure their lag, write the WAVs; cache the record.

    The hidden reference's part has the reference excerpt's cache key.
    """
    from harness.audio import write_audio
    from harness.prepare.stimuli import align_loudness

    cache, root, item_id, sample_rate = Cache(job.cache_root), Path(job.out), job.item, job.sample_rate
    audio: dict[str, np.ndarray] = {}
    metas: dict[str, dict] = {}
    for part in job.parts:
        got = cache.get(part.key)
        if got is None:
            raise RuntimeError(f"cache entry for item '{item_id}' condition '{part.condition}' is missing; "
                               "re-run prepare")
        audio[part.condition], metas[part.condition] = got
    gains, target, warns = align_loudness(audio, sample_rate, target_lufs=job.target_lufs,
                                          peak_ceiling_dbfs=job.peak_ceiling_dbfs, item_id=item_id)
    for cid, m in metas.items():  # the codec's own warnings (the reference's are reported with its excerpt)
        if cid != HIDDEN_REFERENCE:
            warns += [f"item '{item_id}', condition '{cid}': {w}" for w in m.get("warnings", [])]
    ref = audio[HIDDEN_REFERENCE] * np.float32(10 ** (gains[HIDDEN_REFERENCE] / 20))
    stimuli, files = {}, {}
    for part in job.parts:
        cid, kind = part.condition, part.kind
        y = audio[cid] * np.float32(10 ** (gains[cid] / 20))
        lag = 0.0 if cid == HIDDEN_REFERENCE else _lag_check(ref, y, sample_rate, metas[cid], warns,
                                                              where=f"item '{item_id}', condition '{cid}'")
        rels = [stimulus_path(item_id, cid)] + ([reference_path(item_id)] if cid == HIDDEN_REFERENCE else [])
        for rel in rels:
            write_audio(root / rel, y, sample_rate)
            files[rel] = file_sha256(root / rel)
        m = metas[cid]
        stimuli[cid] = {"path": rels[0], "sha256": files[rels[0]], "loudness_lufs": target, "gain_db": gains[cid],
                        "residual_lag_ms": lag, "measured_kbps": m.get("measured_kbps"),
                        "delay_removed_samples": int(m.get("delay_removed_samples", 0)),
                        "settings": m.get("settings", {}), "versions": m.get("versions", {}), "kind": str(kind)}
    result = {"item": item_id, "target": target, "warnings": warns, "files": files, "stimuli": stimuli,
              "duration_s": ref.shape[0] / sample_rate}
    cache.put(job.final_key, result)
    return result


def _lag_check(ref: np.ndarray, y: np.ndarray, sample_rate: int, meta: dict, warns: list[str], *, where: str
               ) -> float:
    """Residual lag (ms) of a stimulus against the reference; a warning in ``warns`` when it is large."""
    from harness.prepare.stimuli import LAG_WARN_MS, correlation_at_lag, residual_lag_ms

    lag = residual_lag_ms(ref, y, sample_rate)
    random_weights = str(meta.get("settings", {}).get("weights", "")).startswith("random")
    if random_weights and abs(lag) > LAG_WARN_MS:
        warns.append(f"{where}: the codec runs with random weights, so its output is unrelated to the input and "
                     "its residual lag says nothing (not a delay error)")
    elif abs(lag) > LAG_WARN_MS:
        corr = correlation_at_lag(ref, y, int(round(lag * sample_rate / 1000.0)))
        hint = ("the codec's delay_samples may be wrong" if corr >= 0.3 else
                "the stimulus hardly resembles the reference, so this lag is uncertain: listen to it")
        warns.append(f"{where}: residual lag {lag:+.2f} ms against the reference (more than {LAG_WARN_MS:g} ms; "
                     f"correlation {corr:.2f} at that lag); {hint}")
    return lag


def item_records(study, signals: list[Signal], results: dict[str, dict]
                 ) -> tuple[tuple[ItemRecord, ...], tuple[ConditionRecord, ...], tuple[StimulusRecord, ...]]:
    items = tuple(ItemRecord(id=i.id, category=i.category, source=i.file, reference=reference_path(i.id),
                             duration_s=round(results[i.id]["duration_s"], 6)) for i in study.items)
    conditions = []
    for s in signals:
        if s.kind is ConditionKind.REFERENCE:
            conditions.append(ConditionRecord(id=HIDDEN_REFERENCE, kind=str(s.kind), label="hidden reference"))
        elif s.kind is ConditionKind.ANCHOR:
            conditions.append(ConditionRecord(id=s.id, kind=str(s.kind), label=ANCHOR_LABELS[s.anchor]))
        else:
            conditions.append(ConditionRecord(id=s.id, kind=str(s.kind), codec=s.codec, kbps=s.kbps,
                                              label=f"{s.codec} {s.kbps:g} kbps"))
    stimuli = []
    for i in study.items:
        for s in signals:
            r = results[i.id]["stimuli"][s.id]
            stimuli.append(StimulusRecord(
                item=i.id, condition=s.id, kind=str(s.kind), path=r["path"], sha256=r["sha256"],
                loudness_lufs=round(r["loudness_lufs"], 3), gain_db=round(r["gain_db"], 3), codec=s.codec,
                nominal_kbps=s.kbps, measured_kbps=r["measured_kbps"],
                delay_removed_samples=r["delay_removed_samples"], residual_lag_ms=round(r["residual_lag_ms"], 4),
                settings=dict(r["settings"]), versions=dict(r["versions"])))
    return items, tuple(conditions), tuple(stimuli)


def _num(x: Any, fmt: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def write_summary(manifest: Manifest, path: Path) -> None:
    """A human-readable ``summary.md``: settings and an item x condition table."""
    s = manifest.settings
    lines = [f"# {manifest.study_name}: prepared stimuli", "",
             f"- study hash `{manifest.study_hash[:16]}`, harness {s.get('harness_version')}",
             f"- {manifest.sample_rate} Hz, {manifest.channels} channel(s), {s.get('format')}, resampler "
             f"{s.get('resampler')}",
             f"- loudness target {manifest.loudness_target_lufs:g} LUFS ({s.get('loudness')}), peak ceiling "
             f"{s.get('peak_ceiling_dbfs'):g} dBFS, fades {s.get('fade_ms'):g} ms",
             f"- {len(manifest.items)} items x {len(manifest.conditions)} signals per trial "
             "(hidden reference + anchors + codec conditions)", ""]
    for cell in s.get("skipped_ladder_cells", []):
        lines.append(f"- skipped ladder cell {cell['codec']} @ {cell['kbps']:g} kbps: {cell['reason']} (nearest: "
                     f"{', '.join(f'{k:g}' for k in cell['nearest'])} kbps)")
    for cell in s.get("skipped_unavailable", []):
        lines.append(f"- skipped condition {cell['condition']}: {cell['reason']}")
    for w in s.get("warnings", []):
        lines.append(f"- warning: {w}")
    lines += ["", "| item | category | condition | kind | nominal kbps | measured kbps | delay removed (samples) "
                  "| residual lag (ms) | loudness (LUFS) | gain (dB) |",
              "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    cats = {i.id: i.category for i in manifest.items}
    for st in manifest.stimuli:
        lines.append(f"| {st.item} | {cats[st.item]} | {st.condition} | {st.kind} | {_num(st.nominal_kbps, 'g')} | "
                     f"{_num(st.measured_kbps, '.2f')} | {st.delay_removed_samples} | {st.residual_lag_ms:+.3f} | "
                     f"{st.loudness_lufs:.2f} | {st.gain_db:+.2f} |")
    atomic_write(path, "\n".join(lines) + "\n")
