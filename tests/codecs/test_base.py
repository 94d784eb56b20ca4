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
