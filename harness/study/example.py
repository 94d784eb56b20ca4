"""The commented example study written by ``mushra init`` (it validates as written)."""

from __future__ import annotations

from pathlib import Path

EXAMPLE = '''\
# mushra-harness study file (TOML). Reference: docs/core.md. Paths are relative to this file.
schema_version = 1
name = "example-study"

# Signal settings: every stimulus is resampled to this rate and channel count.
sample_rate = 48000          # Hz
channels = 1                 # 1 = mono, 2 = stereo
loudness_lufs = -23.0        # all stimuli of an item are aligned to this loudness (ITU-R BS.1770)
peak_ceiling_dbfs = -1.0     # if a stimulus would peak above this, the whole item is turned down equally
excerpt_seconds = 10.0       # excerpt length when an item gives no duration (BS.1534-3: about 10 s, max 12)
fade_ms = 5.0                # raised-cosine fade in/out of each excerpt

# Hidden reference is always included; these are the BS.1534-3 low-pass anchors (3.5 kHz and 7 kHz).
anchors = ["lp3.5", "lp7"]

# Items: either list them ...
[[items]]
id = "speech1"
file = "{audio}/speech/speech1.wav"
category = "speech"          # speech | music | mixed | other
start = 0.0                  # seconds into the file (optional)
# duration = 5.0             # seconds (optional; default excerpt_seconds or to the end of the file)

[[items]]
id = "music1"
file = "{audio}/music/music1.wav"
category = "music"

# ... or take every audio file of a folder (id = file stem, category = sub-folder name):
# items_dir = "{audio}"

# Conditions: one codec at one bitrate each. `mushra codecs` lists codecs and their bitrates.
[[conditions]]
id = "opus_12kbps"           # optional; default "<codec>_<kbps>kbps"
codec = "opus"
kbps = 12
[conditions.options]         # codec options (Opus: vbr, complexity, application, frame_ms, bandwidth, ...)
vbr = false
complexity = 10

[[conditions]]
codec = "opus"
kbps = 6

# A command-line codec takes encode/decode command templates:
# [[conditions]]
# id = "mycodec_8kbps"
# codec = "command"
# kbps = 8
# options = {{ encode = "opusenc --bitrate {{kbps}} {{input}} {{output}}", decode = "opusdec {{input}} {{output}}" }}

# A bitrate ladder expands to conditions <codec>_<kbps>kbps for every cell the codec supports;
# cells a codec cannot do are skipped (and recorded in the manifest), or fail with skip_unsupported = false.
# Mind the limit: hidden reference + anchors + conditions <= 12 signals per trial.
# [ladder]
# codecs = ["opus", "encodec_24khz"]
# kbps = [1.5, 3, 6, 12]
# skip_unsupported = true
# options = {{ opus = {{ vbr = false }} }}

# Settings for the web test (all optional; defaults shown).
[rater]
# trials_per_rater = 2       # default: every item
ratings_per_item = 10
training_items = 1
headphone_check = false
require_all_played = true
require_one_at_100 = true
screening = "bs1534"         # "bs1534" (ITU-R BS.1534-3 post-screening) or "encodec" (EnCodec paper's rule)
session_timeout_minutes = 60
# completion_code = "..."    # default: derived from the study hash
max_signals_per_trial = 12
'''


def write_example(path: Path, *, audio_dir: str = "example-audio", with_audio: bool = True) -> list[Path]:
    """Write the example study to ``path`` and (``with_audio``) generated audio into ``audio_dir`` beside it.

    Returns the files written. Existing audio files are kept.
    """
    from harness.signals import write_example_audio

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EXAMPLE.format(audio=audio_dir), encoding="utf-8")
    written = [path]
    folder = path.parent / audio_dir
    if with_audio and not ((folder / "speech" / "speech1.wav").exists() and (folder / "music" / "music1.wav").exists()):
        written += write_example_audio(folder)
    return written
