"""The one folder scanner (MP3 included), content hashes and atomic writes."""

import numpy as np
import soundfile as sf

from harness import files
from harness.study import load_study


def _tone(path, sr=16000, fmt=None):
    t = np.arange(sr) / sr
    sf.write(str(path), 0.3 * np.sin(2 * np.pi * 440 * t), sr, format=fmt)


def test_scan_audio_includes_mp3_and_skips_prepared_and_hidden(tmp_path):
    (tmp_path / "speech").mkdir()
    _tone(tmp_path / "speech" / "a.wav")
    _tone(tmp_path / "b.MP3", fmt="MP3")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "manifest.json").write_text("{}")
    _tone(tmp_path / "out" / "stim.wav")
    (tmp_path / ".cache").mkdir()
    _tone(tmp_path / ".cache" / "x.wav")
    (tmp_path / "notes.txt").write_text("not audio")
    found = [p.relative_to(tmp_path).as_posix() for p in files.scan_audio(tmp_path)]
    assert found == ["b.MP3", "speech/a.wav"]
    assert ".mp3" in files.AUDIO_SUFFIXES and ".flac" in files.AUDIO_SUFFIXES


def test_items_dir_takes_mp3(tmp_path):
    (tmp_path / "items" / "music").mkdir(parents=True)
    _tone(tmp_path / "items" / "music" / "song.mp3", fmt="MP3")
    _tone(tmp_path / "items" / "talk.wav")
    (tmp_path / "study.toml").write_text('schema_version = 1\nitems_dir = "items"\n'
                                         '[[conditions]]\ncodec = "opus"\nkbps = 12\n')
    study = load_study(tmp_path / "study.toml")
    assert {i.id: i.category for i in study.items} == {"song": "music", "talk": "other"}


def test_file_sha256_follows_content_and_atomic_write(tmp_path):
    p = files.atomic_write(tmp_path / "sub" / "a.txt", "one")
    h1 = files.file_sha256(p)
    files.atomic_write(p, b"two!")  # different size: the memo cannot return the old hash
    assert files.file_sha256(p) != h1
    assert [q.name for q in (tmp_path / "sub").iterdir()] == ["a.txt"]  # no temporary file left
    assert files.json_sha256({"b": 1, "a": 2}) == files.json_sha256({"a": 2, "b": 1})


def test_a_truncated_wav_is_an_error_not_silently_short(tmp_path):
    import pytest

    from harness.audio import read_audio
    from harness.errors import AudioError

    _tone(tmp_path / "full.wav")
    data = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 4])
    assert read_audio(tmp_path / "full.wav")[0].shape[0] == 16000
    with pytest.raises(AudioError, match="truncated: its header promises 32000 bytes"):
        read_audio(tmp_path / "cut.wav")
