"""`mushra prepare` renders SoundStream conditions across the 1.5-18 kbps ladder with the shipped checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.manifest import load_manifest
from tests.conftest import speechlike

pytestmark = pytest.mark.slow

STUDY = """
schema_version = 1
name = "ss-ladder"
sample_rate = 48000
channels = 1
excerpt_seconds = 1.0
anchors = ["lp3.5"]

[[items]]
id = "s1"
file = "s1.wav"
category = "speech"

[ladder]
codecs = ["soundstream"]
kbps = [1.5, 3, 6, 9, 12, 18]
"""


def test_prepare_renders_the_soundstream_ladder(tmp_path: Path, make_wav):
    make_wav("s1.wav", speechlike(sr=48000, seconds=1.0))
    (tmp_path / "study.toml").write_text(STUDY)
    out = tmp_path / "out"
    assert main(["prepare", str(tmp_path / "study.toml"), "--out", str(out), "--jobs", "1"]) == 0
    manifest, _ = load_manifest(out)
    conds = {c.id: c for c in manifest.conditions if c.kind == "codec"}
    assert sorted(c.kbps for c in conds.values()) == [1.5, 3, 6, 9, 12, 18]
    assert all(c.codec == "soundstream" for c in conds.values())


STREAMING_STUDY = """
schema_version = 1
name = "ss-streaming"
sample_rate = 24000
channels = 1
excerpt_seconds = 1.0
anchors = []

[[items]]
id = "s1"
file = "s1.wav"
category = "speech"

[[conditions]]
id = "ss6"
codec = "soundstream"
kbps = 6

[[conditions]]
id = "ss6-stream"
codec = "soundstream"
kbps = 6
[conditions.options]
streaming = true
"""


def test_streaming_condition_records_its_latency_and_matches_offline(tmp_path: Path, make_wav):
    import numpy as np
    import soundfile as sf

    make_wav("s1.wav", speechlike(sr=24000, seconds=1.0, seed=6), sr=24000)
    (tmp_path / "study.toml").write_text(STREAMING_STUDY)
    out = tmp_path / "out"
    assert main(["prepare", str(tmp_path / "study.toml"), "--out", str(out), "--jobs", "1"]) == 0
    manifest, _ = load_manifest(out)
    stim = {s.condition: s for s in manifest.stimuli}
    streamed, offline = stim["ss6-stream"], stim["ss6"]
    assert streamed.settings["streaming"] is True
    assert streamed.settings["algorithmic_latency_samples"] == 320
    assert streamed.settings["algorithmic_latency_ms"] == pytest.approx(13.333)
    assert "streaming" not in offline.settings and "algorithmic_latency_ms" not in offline.settings
    assert streamed.measured_kbps == pytest.approx(offline.measured_kbps)
    a, _ = sf.read(out / streamed.path, dtype="float32")
    b, _ = sf.read(out / offline.path, dtype="float32")
    assert a.shape == b.shape and np.abs(a - b).max() <= 3 / 32768  # equal up to 16-bit rounding
