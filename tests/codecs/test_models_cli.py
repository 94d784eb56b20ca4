"""`mushra models list/fetch` and the model-file search paths (offline: no download is attempted)."""

import shutil

import pytest

from harness.cli import main
from harness.codecs import weights
from harness.errors import HarnessError


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSHRA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    for var in ("MUSHRA_LYRA_DIR", "MUSHRA_ENCODEC_DIR", "MUSHRA_DAC_DIR", "MUSHRA_MIMI_DIR"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_models_list_shows_locations_and_status(isolated, shared, monkeypatch, capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert str(isolated / "cache" / "lyra") in out
    assert str(isolated / "cache" / "encodec" / "encodec_24khz") in out
    assert "facebook/encodec_48khz" in out and "CC-BY-NC 4.0" in out and "Apache-2.0" in out
    # lyra, encodec 24/48 kHz, dac 16/24/44 kHz, mimi
    assert out.count("missing") == 7
    assert "descript/dac_44khz" in out or "dac_44khz" in out
    monkeypatch.setenv("MUSHRA_LYRA_DIR", str(shared / "models" / "lyra"))
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert f"present: {shared / 'models' / 'lyra'} (sha256 verified)" in out


def test_fetch_lyra_keeps_verified_files_without_network(isolated, shared, capsys):
    dest = isolated / "lyra"
    dest.mkdir()
    for f in weights.LYRA_FILES:
        shutil.copyfile(shared / "models" / "lyra" / f.name, dest / f.name)
    # all four files are present with the pinned sha256: nothing is downloaded
    assert main(["models", "fetch", "lyra", "--dest", str(dest)]) == 0
    out = capsys.readouterr().out
    assert "downloading" not in out and f"saved to {dest}" in out


def test_pinned_lyra_checksums_match_the_shared_copy(shared):
    assert weights.lyra_problems(shared / "models" / "lyra") == []
    assert weights.LYRA_URL.format(repo=weights.LYRA_REPO, commit=weights.LYRA_COMMIT,
                                   path=weights.LYRA_FILES[0].repo_path).startswith(
        "https://raw.githubusercontent.com/google/lyra/47698dadf0010abff6a848e02642f55f806d4842/lyra/model_coeffs/")


def test_search_order(isolated, monkeypatch):
    monkeypatch.setenv("MUSHRA_ENCODEC_DIR", "/models/enc")
    hows = [how for how, _ in weights.encodec_candidates("encodec_48khz", "/w")]
    assert hows == ["option weights", "$MUSHRA_ENCODEC_DIR", "cache", "Hugging Face cache"]
    assert weights.encodec_candidates("encodec_48khz")[0][1].as_posix() == "/models/enc/encodec_48khz"
    assert weights.default_dest("lyra") == isolated / "cache" / "lyra"


def test_fetch_unknown_model():
    with pytest.raises(HarnessError, match="unknown model"):
        weights.fetch("encodec_96khz")
    with pytest.raises(SystemExit):
        main(["models", "fetch", "nothing"])


def _mirror(tmp_path, shared, *, corrupt=None):
    """A local mirror of the google/lyra repository layout, served through file:// URLs."""
    root = tmp_path / "mirror"
    for f in weights.LYRA_FILES:
        target = root / f.repo_path
        target.parent.mkdir(parents=True, exist_ok=True)
        data = (shared / "models" / "lyra" / f.name).read_bytes()
        if f.name == corrupt:
            data = data[:-1] + bytes([data[-1] ^ 1])
        target.write_bytes(data)
    return f"file://{root}/{{path}}"


def test_fetch_lyra_downloads_and_verifies(isolated, shared, monkeypatch, capsys):
    monkeypatch.setattr(weights, "LYRA_URL", _mirror(isolated, shared))
    assert main(["models", "fetch", "lyra"]) == 0  # default destination: the harness cache
    out = capsys.readouterr().out
    assert out.count("downloading") == 4
    assert weights.find_lyra_dir() == isolated / "cache" / "lyra"


def test_fetch_lyra_rejects_a_corrupt_download(isolated, shared, monkeypatch):
    monkeypatch.setattr(weights, "LYRA_URL", _mirror(isolated, shared, corrupt="lyragan.tflite"))
    dest = isolated / "dest"
    with pytest.raises(HarnessError, match="lyragan.tflite has sha256 .*not saved"):
        weights.fetch_lyra(dest)
    assert not (dest / "lyragan.tflite").exists()
    assert not list(dest.glob("*.part"))  # nothing half-written is left behind
