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
