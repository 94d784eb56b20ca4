"""Issue 18's acceptance study: Opus, Codec 2, LC3, Lyra, SoundStream (plain and entropy-coded), EnCodec, DAC and
Mimi (random weights where trained weights are absent) in one `mushra prepare` across 1.5-18 kbps, with measured
bitrates, each result's bitrate convention, and aligned outputs."""

import pytest

from harness.codecs import get_codec_class
from harness.manifest import load_manifest
from harness.prepare import prepare

RND = "{ random_weights = true }"


@pytest.mark.slow
def test_prepare_every_codec_family_across_the_ladder(tmp_path, shared, speech_file, monkeypatch):
    import torch

    # one torch thread per worker: two 2-thread workers on 2 cores run the neural codecs several times slower
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _run_study(tmp_path, shared, speech_file)
    finally:
        torch.set_num_threads(threads)


def _run_study(tmp_path, shared, speech_file):
    if not get_codec_class("codec2").availability()[0]:
        pytest.skip("Debian codec2 not installed")
    if not get_codec_class("soundstream_ec").availability()[0]:
        pytest.skip("no context model for soundstream_ec")
    lyra_dir = shared / "models" / "lyra"
    # ten conditions + hidden reference + anchor = 12 signals, BS.1534-3's maximum for one trial
    conds = [("codec2", 1.6, ""), ("soundstream_ec", 1.5, ""), ("encodec_24khz", 3, RND),
             ("lyra", 3.2, f'{{ model_dir = "{lyra_dir}" }}'), ("mimi", 4.4, RND), ("opus", 12, ""),
             ("dac_16khz", 6, RND), ("lc3", 18, ""), ("soundstream", 18, ""), ("soundstream_ec", 18, "")]
    text = "\n".join(f'[[conditions]]\ncodec = "{c}"\nkbps = {k}\n' + (f"options = {o}\n" if o else "")
                     for c, k, o in conds)
    (tmp_path / "study.toml").write_text(f"""
schema_version = 1
name = "breadth"
sample_rate = 48000
channels = 1
excerpt_seconds = 1.5
anchors = ["lp3.5"]

[[items]]
id = "speech"
file = "{speech_file}"
start = 1.0
category = "speech"

{text}
""")
    with pytest.warns(UserWarning):  # excerpts shorter than BS.1534-3's ~10 s are said to be so
        prepare(tmp_path / "study.toml", tmp_path / "out", jobs=2, progress=False)
    again = prepare(tmp_path / "study.toml", tmp_path / "out", jobs=2, progress=False)
    assert again.stats.codec_runs == 0  # cache keys found without building any codec
    m, _ = load_manifest(tmp_path / "out")
    by = {s.condition: s for s in m.stimuli if s.kind == "codec"}
    families = {s.codec for s in by.values()}
    assert families == {"opus", "codec2", "lc3", "lyra", "soundstream", "soundstream_ec", "encodec_24khz",
                        "dac_16khz", "mimi"}
    assert min(s.nominal_kbps for s in by.values()) <= 1.5 and max(s.nominal_kbps for s in by.values()) >= 18
    for cid, st in by.items():
        conv = st.settings["bitrate_convention"]
        assert st.measured_kbps > 0 and conv, cid
        if st.codec == "soundstream_ec":  # entropy-coded: below nominal, header and model id included
            assert st.measured_kbps < st.nominal_kbps, cid
        elif st.codec == "opus":
            assert st.measured_kbps == pytest.approx(st.nominal_kbps, rel=0.1), cid
        else:  # frames / packed codes: the nominal rate up to the last frame of a 1 s excerpt (+ header)
            assert st.nominal_kbps * 0.99 <= st.measured_kbps <= st.nominal_kbps * 1.1 + 0.06, cid
        assert st.measured_kbps < 1.1 * st.nominal_kbps + 0.06, cid
        if st.codec in ("opus", "lc3", "lyra", "soundstream", "soundstream_ec"):  # waveform codecs: aligned
            assert abs(st.residual_lag_ms) < 1.0, (cid, st.residual_lag_ms)
    assert len(by) == 10
    assert by["soundstream_ec_18kbps"].measured_kbps < by["soundstream_18kbps"].measured_kbps
    assert by["codec2_1.6kbps"].delay_removed_samples == 128  # a vocoder: delay from energy envelopes
    assert by["mimi_4.4kbps"].settings["weights"].startswith("random")
    assert "no container" in by["opus_12kbps"].settings["bitrate_convention"]
