"""Issue 18's acceptance study: Opus, Codec 2, LC3, Lyra, SoundStream (plain and entropy-coded), EnCodec, DAC and
Mimi (random weights where trained weights are absent) in one `mushra prepare` across 1.5-18 kbps, with measured
bitrates, each result's bitrate convention, and aligned outputs."""

import pytest

from harness.codecs import get_codec_class
from harness.manifest import load_manifest
from harness.prepare import prepare

LADDER = [1.5, 3, 6, 9, 12, 18]


@pytest.mark.slow
def test_prepare_every_codec_family_across_the_ladder(tmp_path, shared, speech_file):
    if not get_codec_class("codec2").availability()[0]:
        pytest.skip("Debian codec2 not installed")
    if not get_codec_class("soundstream_ec").availability()[0]:
        pytest.skip("no context model for soundstream_ec")
    lyra_dir = shared / "models" / "lyra"
    rnd = "{ random_weights = true }"
    extra = [("codec2", 0.7), ("codec2", 1.6), ("codec2", 3.2), ("lyra", 3.2), ("lyra", 9.2),
             ("encodec_24khz", 1.5), ("encodec_24khz", 12), ("dac_24khz", 1.5), ("dac_24khz", 18), ("mimi", 1.1),
             ("mimi", 4.4)]
    conds = "\n".join(
        f'[[conditions]]\ncodec = "{c}"\nkbps = {k}\n'
        + (f"options = {rnd}\n" if c.startswith(("encodec", "dac", "mimi")) else "")
        + (f'options = {{ model_dir = "{lyra_dir}" }}\n' if c == "lyra" else "") for c, k in extra)
    (tmp_path / "study.toml").write_text(f"""
schema_version = 1
name = "breadth"
sample_rate = 48000
channels = 1
excerpt_seconds = 1.0
anchors = ["lp3.5"]

[[items]]
id = "speech"
file = "{speech_file}"
start = 1.0
category = "speech"

{conds}
[ladder]
codecs = ["opus", "soundstream", "soundstream_ec", "lc3"]
kbps = {LADDER}
""")
    with pytest.warns(UserWarning):  # random-weight output (and a vocoder's waveform) has no meaningful lag
        prepare(tmp_path / "study.toml", tmp_path / "out", jobs=2, progress=False)
    m, _ = load_manifest(tmp_path / "out")
    by = {s.condition: s for s in m.stimuli if s.kind == "codec"}
    families = {s.codec for s in by.values()}
    assert families == {"opus", "codec2", "lc3", "lyra", "soundstream", "soundstream_ec", "encodec_24khz",
                        "dac_24khz", "mimi"}
    assert {f"soundstream_ec_{k:g}kbps" for k in LADDER} <= set(by) and "lc3_18kbps" in by
    assert min(s.nominal_kbps for s in by.values()) <= 1.5 and max(s.nominal_kbps for s in by.values()) >= 18
    for cid, st in by.items():
        conv = st.settings["bitrate_convention"]
        assert st.measured_kbps > 0 and conv, cid
        if st.codec == "soundstream_ec":  # entropy-coded: below nominal, header and model id included
            plain = by[cid.replace("soundstream_ec", "soundstream")]
            assert st.measured_kbps < plain.measured_kbps, cid
        elif st.codec == "opus":
            assert st.measured_kbps == pytest.approx(st.nominal_kbps, rel=0.1), cid
        else:  # frames / packed codes: the nominal rate up to the last frame of a 1 s excerpt (+ header)
            assert st.nominal_kbps * 0.99 <= st.measured_kbps <= st.nominal_kbps * 1.1 + 0.06, cid
        if st.codec in ("opus", "lc3", "lyra", "soundstream", "soundstream_ec"):  # waveform codecs: aligned
            assert abs(st.residual_lag_ms) < 1.0, (cid, st.residual_lag_ms)
    assert by["codec2_1.6kbps"].delay_removed_samples == 128  # a vocoder: delay from energy envelopes
    assert by["mimi_1.1kbps"].settings["weights"].startswith("random")
    assert "container" in by["opus_6kbps"].settings["bitrate_convention"]
    skipped = {(s["codec"], s["kbps"]) for s in m.settings["skipped_ladder_cells"]}
    assert ("opus", 1.5) in skipped and ("lc3", 12.0) in skipped
