import json

import numpy as np
import pytest

from harness.audio import estimate_lag, read_audio
from harness.cli import main
from harness.manifest import load_manifest
from tests.conftest import speechlike


def test_init_prepare_codecs_encode(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "study.toml"]) == 0
    assert main(["init", "study.toml"]) == 2  # refuses to overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(["prepare", "study.toml", "--out", "st", "--jobs", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "10 stimuli (2 items x 5 signals)" in out and "8 rendered" in out
    m, _ = load_manifest(tmp_path / "st")
    assert {c.id for c in m.conditions} == {"reference", "lp3.5", "lp7", "opus_12kbps", "opus_6kbps"}
    assert main(["prepare", "study.toml", "--out", "st", "--jobs", "1", "--quiet"]) == 0
    assert "0 rendered, 8 from cache" in capsys.readouterr().out

    assert main(["codecs", "--json", "--ladder", "1.5,3,6,12"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["opus"]["usable"] and rows["opus"]["ladder"] == {"1.5": False, "3": False, "6": True, "12": True}
    assert main(["codecs"]) == 0
    table = capsys.readouterr().out
    assert "opus" in table and "6-510 kbps" in table

    wav = tmp_path / "example-audio" / "speech" / "speech1.wav"
    assert main(["encode", "--codec", "opus", "--kbps", "12", "--option", "vbr=false", "--option",
                 "application=voip", str(wav), "o.wav"]) == 0
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rec["codec"] == "opus" and rec["nominal_kbps"] == 12 and rec["delay"] == 312
    assert rec["measured_kbps"] == pytest.approx(12, rel=0.03)
    assert rec["settings"]["application"] == "voip" and rec["settings"]["vbr"] is False
    assert rec["versions"]["libopus"].startswith("libopus")
    x, sr = read_audio(wav)
    y, sr2 = read_audio(tmp_path / "o.wav")
    assert sr2 == sr and y.shape == x.shape and abs(estimate_lag(reference=x, degraded=y, sample_rate=sr)) <= 12


def test_cli_errors_are_clear(tmp_path, capsys, make_wav):
    wav = make_wav("x.wav", speechlike(seconds=1.0))
    assert main(["encode", "--codec", "opus", "--kbps", "3", str(wav), str(tmp_path / "o.wav")]) == 2
    assert "Nearest supported: 6" in capsys.readouterr().err
    assert main(["encode", "--codec", "nosuch", "--kbps", "3", str(wav), str(tmp_path / "o.wav")]) == 2
    assert "Registered codecs" in capsys.readouterr().err
    assert main(["prepare", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "mushra init" in capsys.readouterr().err
    assert not (tmp_path / "o.wav").exists()


def test_encode_codes_stereo_in_stereo(tmp_path, capsys, make_wav):
    left, right = speechlike(seconds=1.0, seed=1), speechlike(seconds=1.0, seed=2)
    wav = make_wav("st.wav", np.concatenate([left, 0.5 * right[::-1]], axis=1))
    assert main(["encode", "--codec", "opus", "--kbps", "64", str(wav), str(tmp_path / "o.wav")]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["settings"]["channels"] == 2
    x, _ = read_audio(wav)
    y, _ = read_audio(tmp_path / "o.wav")
    assert np.corrcoef(x[:, 0], y[:, 0])[0, 1] > 0.9 and np.corrcoef(x[:, 1], y[:, 1])[0, 1] > 0.9
