"""Helpers for the study-core tests: write small studies on generated audio into tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from tests.conftest import speechlike, tone


def write_study(folder: Path, body: str, *, items: dict[str, np.ndarray] | None = None, sr: int = 48000,
                header: str | None = None) -> Path:
    """Write audio files (``items``: relative path -> audio) and ``study.toml`` (header + ``body``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for rel, audio in (items or {}).items():
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(p), audio, sr, subtype="PCM_16")
    head = header if header is not None else (
        'schema_version = 1\nname = "t"\nsample_rate = 48000\nchannels = 1\nexcerpt_seconds = 1.5\n')
    path = folder / "study.toml"
    path.write_text(head + body)
    return path


def two_items() -> dict[str, np.ndarray]:
    music = (tone(220, seconds=2.0) + tone(1500, seconds=2.0, amp=0.1) + tone(5000, seconds=2.0, amp=0.05))
    return {"a/speech.wav": speechlike(seconds=2.0, seed=1), "a/music.wav": music}


ITEMS = '''
[[items]]
id = "s1"
file = "a/speech.wav"
category = "speech"

[[items]]
id = "m1"
file = "a/music.wav"
category = "music"
'''

OPUS = '''
[[conditions]]
codec = "opus"
kbps = 12
options = { vbr = false }

[[conditions]]
codec = "opus"
kbps = 6
'''
