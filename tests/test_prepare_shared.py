"""prepare on a study of the ../shared audio (short excerpts): aligned, loudness-matched stimuli, a correct manifest."""

import numpy as np
import pytest

from harness.audio import estimate_lag, loudness_lufs, read_audio
from harness.manifest import load_manifest
from harness.prepare import prepare


def test_prepare_on_shared_audio(shared, tmp_path):
    a = shared / "audio"
    files = {"speech_f": (a / "speech" / "librispeech_198-209-0000_female_16k.wav", "speech", 1.0),
             "music_st": (a / "music" / "kevin-macleod_vibe-ace_cc-by_48k_stereo_20s.wav", "music", 5.0),
             "mixed": (a / "mixed" / "librispeech-female_plus_pinknoise_48k.wav", "mixed", 0.5)}
    body = "schema_version = 1\nname = \"shared\"\nsample_rate = 48000\nchannels = 1\nexcerpt_seconds = 2.5\n"
    for iid, (f, cat, start) in files.items():
        body += f'[[items]]\nid = "{iid}"\nfile = "{f}"\ncategory = "{cat}"\nstart = {start}\n'
    body += ('[[conditions]]\ncodec = "opus"\nkbps = 9\noptions = { vbr = false }\n'
             '[[conditions]]\ncodec = "opus"\nkbps = 16\noptions = { application = "voip" }\n')
    (tmp_path / "study.toml").write_text(body)
    res = prepare(tmp_path / "study.toml", tmp_path / "out", jobs=2, progress=False)
    m, folder = load_manifest(tmp_path / "out")
    assert m.study_hash == res.manifest.study_hash and len(m.stimuli) == 3 * 5
    assert {i.id: i.category for i in m.items} == {k: v[1] for k, v in files.items()}
    assert any("music_st" in w and "averaged to mono" in w for w in m.settings["warnings"])  # stereo source
    for item in m.items:
        assert item.duration_s == pytest.approx(2.5, abs=1e-3)
        ref, sr = read_audio(folder / item.reference)
        assert sr == 48000 and ref.shape == (120000, 1)
        target = m.settings["item_loudness_lufs"][item.id]  # -23, or lower where the peak guard stepped in
        assert target == -23.0 or any("peak" in w and item.id in w for w in res.warnings)
        for st in m.stimuli_for(item.id):
            y, _ = read_audio(folder / st.path)
            assert y.shape == ref.shape and st.loudness_lufs == pytest.approx(target, abs=1e-3)
            assert loudness_lufs(y, sr) == pytest.approx(target, abs=0.5)
            assert np.max(np.abs(y)) <= 10 ** (-1 / 20) + 1e-3  # peak ceiling -1 dBFS
            lag = estimate_lag(reference=ref, degraded=y, sample_rate=sr)
            assert abs(lag) <= 12 and abs(st.residual_lag_ms) < 1.0  # <= 0.25 ms; 0 for reference/anchors
            if st.kind != "codec":
                assert lag == 0 and st.residual_lag_ms == 0
            else:
                assert st.delay_removed_samples == 312 and st.measured_kbps > 0.5 * st.nominal_kbps
    cbr = [s for s in m.stimuli if s.condition == "opus_9kbps"]
    # 9 kbps CBR in 20 ms frames is 22.5 bytes a packet: libopus sends 23 (9.2 kbps), and the last frame of a
    # 2.5 s excerpt is padded (+0.8 %): 9.27 kbps measured
    assert all(s.measured_kbps == pytest.approx(9.2 * (126 * 0.02) / 2.5, rel=0.005) for s in cbr)
    # the 16 kHz speech source really was resampled: nothing above its 8 kHz Nyquist in the reference
    ref, sr = read_audio(folder / m.items[0].reference)
    spec = np.abs(np.fft.rfft(ref[:, 0]))
    f = np.fft.rfftfreq(len(ref), 1 / sr)
    assert spec[f > 9000].max() < 1e-2 * spec.max()
