import json
import warnings

import numpy as np
import pytest
import soundfile as sf

from harness.audio import estimate_lag, loudness_lufs, read_audio
from harness.codecs import CodecUnavailable, get_codec_class
from harness.errors import AudioError, StudyError
from harness.manifest import load_manifest
from harness.prepare import prepare
from tests.conftest import speechlike, tone
from tests.study_helpers import ITEMS, OPUS, two_items, write_study


@pytest.fixture
def prepared(tmp_path):
    study = write_study(tmp_path / "s", ITEMS + OPUS, items=two_items())
    res = prepare(study, tmp_path / "out", jobs=1, progress=False)
    return study, tmp_path / "out", res


def test_stimuli_are_aligned_loudness_matched_and_indistinguishable_by_size(prepared):
    _, out, res = prepared
    m, folder = load_manifest(out)
    assert m == res.manifest
    assert [c.id for c in m.conditions] == ["reference", "lp3.5", "lp7", "opus_12kbps", "opus_6kbps"]
    assert len(m.stimuli) == 2 * 5
    for item in m.items:
        ref, sr = read_audio(folder / item.reference)
        sizes = set()
        for st in m.stimuli_for(item.id):
            y, _ = read_audio(folder / st.path)
            sizes.add((folder / st.path).stat().st_size)
            assert y.shape == ref.shape
            assert loudness_lufs(y, sr) == pytest.approx(m.loudness_target_lufs, abs=0.5)
            lag = estimate_lag(reference=ref, degraded=y, sample_rate=sr)
            assert abs(lag) <= (0 if st.kind != "codec" else 12) and abs(st.residual_lag_ms) < 1.0
            if st.kind == "codec":
                assert st.codec == "opus" and st.delay_removed_samples == 312
                assert st.versions["libopus"].startswith("libopus")
                cbr = st.settings["vbr"] is False  # CBR hits its target; VBR varies with content
                assert st.measured_kbps == pytest.approx(st.nominal_kbps, rel=0.03 if cbr else 0.4)
        assert len(sizes) == 1
    hidden = m.stimulus("s1", "reference")
    assert hidden.sha256 == __import__("hashlib").sha256((folder / hidden.path).read_bytes()).hexdigest()
    assert m.rater["trials_per_rater"] == 2 and m.settings["resampler"] == "soxr VHQ"
    assert "| s1 | speech | opus_12kbps | codec | 12 |" in (out / "summary.md").read_text()


def test_unchanged_rerun_does_no_codec_work(prepared):
    study, out, first = prepared
    assert first.stats.codec_runs == 2 * 4 and first.stats.cache_hits == 0
    again = prepare(study, out, jobs=1, progress=False)
    assert again.stats.codec_runs == 0 and again.stats.cache_hits == 8 and again.stats.items_written == 0
    assert again.manifest == first.manifest
    assert again.stats.seconds < 2.0
    # a changed condition re-renders only that condition (both items), and stale files are removed
    study.write_text(study.read_text().replace("kbps = 6", "kbps = 8"))
    third = prepare(study, out, jobs=1, progress=False)
    assert third.stats.codec_runs == 2 and not (out / "stimuli" / "s1" / "opus_6kbps.wav").exists()
    assert (out / "stimuli" / "s1" / "opus_8kbps.wav").exists()


def test_interrupted_run_redoes_only_what_is_missing(prepared):
    study, out, first = prepared
    m = first.manifest
    metas = {p: json.loads(p.read_text()) for p in (out / ".cache").rglob("*.json") if p.name != "last_run.json"}
    # interrupted while rendering: item m1's opus_6kbps never reached the cache, so m1 was never finished
    render = next(p for p, d in metas.items() if d.get("item") == "m1" and d.get("condition") == "opus_6kbps")
    final = next(p for p, d in metas.items() if d.get("item") == "m1" and "files" in d)
    for p in (render, render.with_suffix(".npy"), final):
        p.unlink()
    # interrupted while writing: one WAV of item s1 is missing (s1 is rewritten from the cache, no codec work)
    (out / m.stimulus("s1", "lp7").path).unlink()
    again = prepare(study, out, jobs=2, progress=False)
    assert again.stats.codec_runs == 1 and again.stats.items_written == 2
    assert (out / m.stimulus("s1", "lp7").path).exists()
    assert again.manifest == m  # bit-identical result


def test_peak_guard_lowers_the_whole_item_equally(tmp_path):
    clicks = np.zeros((96000, 1), np.float32)
    clicks[::4800] = 0.9  # very peaky: at -23 LUFS it would clip
    clicks += 0.001 * speechlike(seconds=2.0)
    study = write_study(tmp_path, '[[items]]\nid = "c"\nfile = "c.wav"\n' + OPUS, items={"c.wav": clicks})
    with pytest.warns(UserWarning, match="peak"):
        res = prepare(study, tmp_path / "out", jobs=1, progress=False)
    target = res.manifest.settings["item_loudness_lufs"]["c"]
    assert target < -23.0
    for st in res.manifest.stimuli:
        y, sr = read_audio(tmp_path / "out" / st.path)
        assert 20 * np.log10(np.max(np.abs(y))) <= -1.0 + 0.01
        assert st.loudness_lufs == pytest.approx(target, abs=1e-3)
        assert loudness_lufs(y, sr) == pytest.approx(target, abs=0.5)


@pytest.mark.parametrize("audio, message", [
    (np.full((48000, 1), np.nan, np.float32), "NaN"),
    (np.zeros((48000, 1), np.float32), "silent"),
    (tone(seconds=0.3), "too short|at least 1 s|shorter than"),
    (np.repeat(tone(seconds=2.0), 3, axis=1), "has 3 channels but the study uses 2"),
])
def test_bad_audio_fails_with_a_clear_error(tmp_path, audio, message):
    head = 'schema_version = 1\nchannels = 2\nexcerpt_seconds = 1.5\n'
    study = write_study(tmp_path, '[[items]]\nid = "x"\nfile = "x.wav"\n' + OPUS, items={}, header=head)
    sf.write(str(tmp_path / "x.wav"), audio, 48000, subtype="FLOAT")
    with pytest.raises(AudioError, match=message):
        prepare(study, tmp_path / "out", jobs=1, progress=False)


def test_corrupt_file(tmp_path):
    study = write_study(tmp_path, '[[items]]\nid = "x"\nfile = "x.wav"\n' + OPUS, items={})
    (tmp_path / "x.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    with pytest.raises(AudioError, match="cannot read audio"):
        prepare(study, tmp_path / "out", jobs=1, progress=False)


def test_bad_codec_option_names_the_study_line(tmp_path):
    body = ITEMS + OPUS.replace("{ vbr = false }", "{ vbrr = false }")
    study = write_study(tmp_path, body, items=two_items())
    line = next(i for i, s in enumerate(study.read_text().splitlines(), 1) if s.startswith("[[conditions]]"))
    with pytest.raises(StudyError, match=rf"study.toml:{line}: condition 'opus_12kbps': bad option"):
        prepare(study, tmp_path / "out", jobs=1, progress=False)


def test_unusable_codec_fails_up_front_or_is_skipped(tmp_path):
    unusable = [n for n in ("lyra", "encodec_24khz") if n in __import__("harness.codecs").codecs.codec_names()
                and not get_codec_class(n).availability()[0]]
    if not unusable:
        pytest.skip("every optional codec is usable on this machine")
    name = unusable[0]
    kbps = get_codec_class(name).bitrates.nearest(6.0, count=1)[0]
    body = ITEMS + OPUS + f'\n[[conditions]]\ncodec = "{name}"\nkbps = {kbps}\n'
    study = write_study(tmp_path, body, items=two_items())
    with pytest.raises(CodecUnavailable, match="--skip-unavailable"):
        prepare(study, tmp_path / "out", jobs=1, progress=False)
    assert not (tmp_path / "out" / "stimuli").exists()  # failed before any work
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = prepare(study, tmp_path / "out", jobs=1, progress=False, skip_unavailable=True)
    assert [s["codec"] for s in res.manifest.settings["skipped_unavailable"]] == [name]
    assert all(s.codec != name for s in res.manifest.stimuli)


def test_manifest_bytes_are_reproducible(prepared, tmp_path):
    study, out, _ = prepared
    again = prepare(study, tmp_path / "again", jobs=3, progress=False, force=True)  # workers finish items
    a = json.loads((out / "manifest.json").read_text())
    b = json.loads((again.folder / "manifest.json").read_text())
    assert a["stimuli"] == b["stimuli"] and a["study_hash"] == b["study_hash"]  # same audio, bit for bit
    assert list(a["settings"]["item_loudness_lufs"]) == ["s1", "m1"] == list(b["settings"]["item_loudness_lufs"])


def test_misaligned_codec_is_measured_and_warned(tmp_path):
    import sys
    from pathlib import Path

    tool = Path(__file__).with_name("delay_tool.py")
    body = ITEMS + (f'\n[[conditions]]\nid = "late"\ncodec = "command"\nkbps = 768\n'
                    f'[conditions.options]\nencode = "cp {{input}} {{output}}"\n'
                    f'decode = "{sys.executable} {tool} {{input}} {{output}} 96"\n')
    study = write_study(tmp_path, body, items=two_items())
    with pytest.warns(UserWarning, match=r"condition 'late': residual lag \+2.00 ms .*correlation 1.00"):
        res = prepare(study, tmp_path / "out", jobs=1, progress=False)
    assert {s.item: s.residual_lag_ms for s in res.manifest.stimuli if s.condition == "late"} == {"s1": 2.0, "m1": 2.0}
    assert all(s.residual_lag_ms == 0 for s in res.manifest.stimuli if s.kind != "codec")


def test_clipped_source_is_warned_and_recorded(tmp_path):
    clipped = np.clip(tone(300, seconds=2.0, amp=1.5), -1, 1)
    study = write_study(tmp_path, '[[items]]\nid = "c"\nfile = "c.wav"\n' + OPUS, items={"c.wav": clipped})
    with pytest.warns(UserWarning, match="clipping"):
        res = prepare(study, tmp_path / "out", jobs=1, progress=False)
    assert any("clipping" in w for w in res.manifest.settings["warnings"])
