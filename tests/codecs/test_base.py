import numpy as np
import pytest

from harness.codecs import BitrateSpec, UnknownCodec, UnsupportedBitrate, get_codec_class


def test_bitrate_spec_points_and_range():
    spec = BitrateSpec(points=(1.5, 3.0, 6.0), range=(8.0, 12.0))
    assert spec.supports(3) and spec.supports(10) and not spec.supports(7)
    with pytest.raises(UnsupportedBitrate, match="Nearest supported: 6, 8"):
        spec.check("x", 7)


def test_unknown_codec_lists_valid_names():
    with pytest.raises(UnknownCodec, match="Registered codecs"):
        get_codec_class("no-such-codec")


def test_create_codec_passes_condition_options_to_availability(shared, monkeypatch, tmp_path):
    """A codec unusable with its defaults (no Lyra models in the default places) is usable with a condition's
    model_dir: create_codec must ask availability() about the options it was given."""
    from harness.codecs import CodecUnavailable, create_codec

    monkeypatch.setenv("MUSHRA_LYRA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ok, reason = get_codec_class("lyra").availability()
    if not ok:
        with pytest.raises(CodecUnavailable):
            create_codec("lyra", kbps=3.2)
    codec = create_codec("lyra", kbps=3.2, model_dir=str(shared / "models" / "lyra"))
    x = np.zeros((3200, 1), dtype=np.float32)
    assert len(codec.encode(x)) == 10 * 8  # 10 packets of 8 bytes at 3.2 kbps
