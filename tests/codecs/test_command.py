"""The `command` codec type: real external tools (cp, sh, Debian opus-tools), success and every failure mode."""

import shutil
import sys

import numpy as np
import pytest


from harness.codecs import UnsupportedBitrate, create_codec, transcode
from harness.codecs.base import CodecError, CodecUnavailable
from tests.codecs.lagcheck import xcorr_lag
from tests.conftest import speechlike

COPY = dict(encode="cp {input} {output}", decode="cp {input} {output}", suffix=".wav")
OPUS_TOOLS = dict(
    encode="opusenc --quiet --bitrate {kbps} --hard-cbr {input} {output}",
    decode="opusdec --quiet --rate {sample_rate} {input} {output}",
    suffix=".opus", bitrates=[6, 9, 12, 18, 24, 32, 64], label="opus-tools", version="opusenc --version",
)


def test_copy_codec_is_lossless_and_sized_by_file():
    codec = create_codec("command", kbps=256, sample_rate=16000, **COPY)
    x = speechlike(sr=16000, seconds=1.0)
    r = transcode(codec, x, 16000)
    # the payload is the 16-bit WAV file: 44-byte header + 2 bytes per sample, all counted
    assert r.payload_bytes == 44 + 2 * 16000
    assert r.measured_kbps == pytest.approx((44 + 32000) * 8 / 1000)
    np.testing.assert_allclose(r.audio, x, atol=1 / 32768)
    assert codec.settings()["encode"] == COPY["encode"]
    short = create_codec("command", kbps=256, sample_rate=16000, encode="cp {in} {out}", decode="cp {in} {out}")
    np.testing.assert_array_equal(transcode(short, x, 16000).audio, r.audio)


@pytest.mark.skipif(shutil.which("opusenc") is None, reason="Debian opus-tools not installed")
@pytest.mark.parametrize("kbps", [12, 32])
def test_opus_tools_worked_example(kbps):
    codec = create_codec("command", kbps=kbps, **OPUS_TOOLS)
    x = speechlike(sr=44100, seconds=2.0)
    r = transcode(codec, x, 44100)
    assert r.audio.shape == x.shape
    # opusdec removes the pre-skip (312 samples of encoder lookahead) itself: output is aligned
    assert abs(xcorr_lag(x, r.audio, max_lag=441)) <= 3
    # measured from the .opus file: the Ogg container and tags are counted on top of the CBR packets
    assert r.measured_kbps == pytest.approx(r.payload_bytes * 8 / 2.0 / 1000)
    assert kbps < r.measured_kbps < kbps * 1.5
    assert r.versions["encode_program"].endswith("opusenc")
    assert r.versions["tool"].startswith("opusenc opus-tools")


def test_bitrate_options():
    with pytest.raises(UnsupportedBitrate, match="Nearest supported: 6, 12"):
        create_codec("command", kbps=9, bitrates=[6, 12], **COPY)
    assert create_codec("command", kbps=9, bitrates="6-64", **COPY).kbps == 9
    assert create_codec("command", kbps=9, bitrates={"range": [6, 64]}, **COPY).kbps == 9
    with pytest.raises(CodecError, match="cannot read bitrates"):
        create_codec("command", kbps=9, bitrates="fast", **COPY)


def test_failing_tool_reports_command_and_stderr(tmp_path):
    codec = create_codec("command", kbps=6, encode="sh -c 'echo unsupported sample format >&2; exit 3' {input}",
                         decode="cp {input} {output}")
    with pytest.raises(CodecError, match=r"encode step failed with exit code 3: sh -c .*\nunsupported sample format"):
        codec.encode(speechlike(sr=48000, seconds=0.1))


def test_tool_that_writes_nothing():
    codec = create_codec("command", kbps=6, encode="true {input} {output}", decode="cp {input} {output}")
    with pytest.raises(CodecError, match="wrote no output file"):
        codec.encode(speechlike(sr=48000, seconds=0.1))


def test_timeout():
    codec = create_codec("command", kbps=6, encode=f"{sys.executable} -c 'import time; time.sleep(10)' {{output}}",
                         decode="cp {input} {output}", timeout_s=0.5)
    with pytest.raises(CodecError, match=r"timed out after 0.5 s.*timeout_s"):
        codec.encode(speechlike(sr=48000, seconds=0.1))


def test_missing_tool_is_unavailable_and_named():
    with pytest.raises(CodecUnavailable, match="'no-such-codec-enc' not found on PATH"):
        create_codec("command", kbps=6, encode="no-such-codec-enc {input} {output}", decode="cp {input} {output}")


def test_bad_templates_and_options():
    with pytest.raises(CodecError, match="needs both"):
        create_codec("command", kbps=6, encode="cp {input} {output}")
    with pytest.raises(CodecError, match=r"invalid \('bitrate'\)"):
        create_codec("command", kbps=6, encode="enc {bitrate} {input} {output}", decode="cp {input} {output}")
    with pytest.raises(CodecError, match="unknown option"):
        create_codec("command", kbps=6, colour="blue", **COPY)


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed")
def test_wrong_decoder_rate_is_an_error():
    codec = create_codec("command", kbps=6, encode="cp {input} {output}", suffix=".wav",
                         decode="sox {input} -r 8000 {output}")
    with pytest.raises(CodecError, match="8000 Hz audio but sample_rate is 48000"):
        codec.decode(codec.encode(speechlike(sr=48000, seconds=0.1)))


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed")
def test_shell_mode_and_delay():
    # shell pipelines work with shell = true; a declared delay is removed by transcode
    codec = create_codec("command", kbps=256, shell=True, delay_samples=100, suffix=".wav",
                         encode="cat {input} > {output}",
                         decode="sox {input} {output} pad 100s 0")
    x = speechlike(sr=48000, seconds=0.5)
    r = transcode(codec, x, 48000)
    assert r.delay_removed_samples == 100
    np.testing.assert_allclose(r.audio, x, atol=1 / 32768)
