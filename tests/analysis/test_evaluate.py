import json

import numpy as np
import pytest

from harness.analysis import evaluate as E
from harness.audio import write_audio
from tests.analysis.helpers import harmonic, lowpass

SR = 16000


def _opus_ok():
    try:
        from harness.codecs import get_codec_class

        return get_codec_class("opus").availability()[0]
    except Exception:
        return False


needs_opus = pytest.mark.skipif(not _opus_ok(), reason="opus adapter/libopus not available")


@pytest.fixture
def items(tmp_path):
    d = tmp_path / "items"
    write_audio(d / "speech" / "a.wav", harmonic(SR, 1.5, seed=0), SR)
    write_audio(d / "music" / "b.wav", harmonic(SR, 1.5, seed=1), SR)
    return d


@needs_opus
def test_ladder_results_cache_and_parallel_agree(items, tmp_path):
    out = tmp_path / "out"
    kw = dict(items=items, codecs=["opus"], kbps=[6, 16], metrics=("si-snr", "mel"), out_dir=out, progress=False)
    df, paths, notes = E.evaluate(jobs=1, **kw)
    assert len(df) == 2 * 2 * 2 and not df["cached"].any() and notes == []
    assert set(df["category"]) == {"speech", "music"}
    snr = df[df["metric"] == "si-snr"].groupby("kbps")["value"].mean()
    assert snr[16.0] > snr[6.0] > 0  # more bits, better
    assert df["measured_kbps"].between(3, 20).all()
    doc = json.loads(paths["json"].read_text())
    assert doc["format"] == E.FORMAT and doc["schema_version"] == E.SCHEMA_VERSION
    assert doc["settings"]["metrics"] == ["si-snr", "mel"] and "measured_kbps" in doc["rows"][0]
    assert paths["csv"].exists() and paths["parquet"].exists()
    assert len(list((out / ".cache").rglob("*.json"))) == 8
    # second run: every cell from the cache, same numbers
    df2, _, _ = E.evaluate(jobs=1, **kw)
    assert df2["cached"].all()
    assert np.allclose(df2["value"], df["value"])
    # spawn workers, no cache: same numbers
    df3, _, _ = E.evaluate(jobs=2, use_cache=False, **{**kw, "out_dir": tmp_path / "out3"})
    assert not df3["cached"].any()
    assert np.allclose(df3.sort_values("key")["value"], df.sort_values("key")["value"])
    back, _ = E.read_results(paths["json"])
    assert np.allclose(back["value"], df["value"])


@needs_opus
def test_unsupported_rungs_are_noted(items, tmp_path):
    cells, notes = E.ladder_cells(items, ["opus"], [2, 6], ["si-snr"])
    assert len(cells) == 2 and "no 2 kbps" in notes[0]


@needs_opus
@pytest.mark.slow
def test_dask_local_cluster(items, tmp_path):
    distributed = pytest.importorskip("distributed")
    # tcp on loopback (inproc transport, the processes=False default, cannot take a host)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, host="127.0.0.1",
                                  protocol="tcp://", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        df, paths, _ = E.evaluate(items=items, codecs=["opus"], kbps=[12], metrics=("si-snr",),
                                  out_dir=tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
    local, _, _ = E.evaluate(items=items, codecs=["opus"], kbps=[12], metrics=("si-snr",),
                             out_dir=tmp_path / "local", use_cache=False, progress=False)
    assert len(df) == 2
    assert np.allclose(df.sort_values("item")["value"], local.sort_values("item")["value"])


@needs_opus
def test_evaluate_cli_with_report(items, tmp_path, capsys):
    from harness.cli import main

    out = tmp_path / "cli"
    rc = main(["evaluate", "--items", str(items), "--codec", "opus", "--kbps", "8,2", "--metric", "si-snr",
               "--out", str(out), "--jobs", "1", "--report"])
    assert rc == 0
    captured = capsys.readouterr()
    assert "no 2 kbps" in captured.err and "2 results (0 from cache)" in captured.out
    assert (out / "report.html").exists() and (out / "si-snr_vs_bitrate.png").exists()
    assert main(["evaluate", "--items", str(items), "--codec", "nosuchcodec", "--kbps", "8", "--out", str(out)]) == 2


def _hand_made_study(tmp_path):
    from harness.manifest import ConditionRecord, ItemRecord, Manifest, StimulusRecord

    sr = 48000
    study = tmp_path / "study"
    x = harmonic(sr, 2.0)
    write_audio(study / "refs" / "i1.wav", x, sr)
    stim = []
    for cid, kind, y in (("reference", "reference", x), ("lp3.5", "anchor", lowpass(x, sr, 3500)),
                         ("lp7", "anchor", lowpass(x, sr, 7000))):
        write_audio(study / "stimuli" / f"i1_{cid}.wav", y, sr)
        stim.append(StimulusRecord(item="i1", condition=cid, kind=kind, path=f"stimuli/i1_{cid}.wav", sha256="x",
                                   loudness_lufs=-23.0, gain_db=0.0))
    Manifest(study_name="t", study_hash="h", sample_rate=sr, channels=1, loudness_target_lufs=-23.0,
             items=(ItemRecord("i1", "speech", "src.wav", "refs/i1.wav", 2.0),),
             conditions=(ConditionRecord("reference", "reference"), ConditionRecord("lp3.5", "anchor"),
                         ConditionRecord("lp7", "anchor")), stimuli=tuple(stim)).save(study)
    return study


def test_study_mode_scores_stimuli_against_references(tmp_path):
    study = _hand_made_study(tmp_path)
    df, _, _ = E.evaluate(study=study, metrics=("si-snr", "mel"), out_dir=tmp_path / "o", progress=False)
    v = df.set_index(["metric", "condition"])["value"]
    assert v[("si-snr", "reference")] > 60  # 16-bit copy of the reference
    assert v[("mel", "lp3.5")] > v[("mel", "lp7")] > v[("mel", "reference")]


def test_bad_requests(tmp_path):
    with pytest.raises(E.EvaluationError, match="exactly one"):
        E.evaluate(out_dir=tmp_path, metrics=("si-snr",))
    with pytest.raises(E.EvaluationError, match="unknown metric"):
        E.evaluate(items=tmp_path, codecs=["opus"], kbps=[6], metrics=("loudness",), out_dir=tmp_path)
    with pytest.raises(E.EvaluationError, match="no audio files"):
        E.evaluate(items=tmp_path, codecs=["opus"], kbps=[6], metrics=("si-snr",), out_dir=tmp_path / "o")
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(E.EvaluationError, match="not a mushra-harness"):
        E.read_results(tmp_path / "bad.json")


def test_demo_report_on_a_study(tmp_path):
    from harness.analysis.report import demo_report

    study = _hand_made_study(tmp_path)
    page = demo_report(study, tmp_path / "report")
    text = page.read_text()
    assert page.name == "report.html" and "<table" in text
    rows, _ = E.read_results(tmp_path / "report" / "evaluation.json")
    v = rows.set_index(["metric", "condition"])["value"]
    assert v[("visqol-audio", "reference")] > 4.5 > v[("visqol-audio", "lp3.5")]


@needs_opus
def test_a_failing_cell_names_item_and_codec_and_the_others_still_run(items, tmp_path):
    (items / "speech" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")  # unreadable audio
    df, paths, notes = E.evaluate(items=items, codecs=["opus"], kbps=[12], metrics=("si-snr",),
                                  out_dir=tmp_path / "out", progress=False)
    bad = df[df["error"] != ""]
    assert list(bad["item"]) == ["speech/broken"] and bad["value"].isna().all()
    assert "item 'speech/broken', opus_12kbps" in bad["error"].iloc[0]
    assert df[df["error"] == ""]["value"].notna().sum() == 2  # the two good items were scored
    assert any("speech/broken" in n for n in notes)
    assert json.loads(paths["json"].read_text())["settings"]["failed_cells"] == 1


@needs_opus
def test_a_cached_rerun_starts_no_worker(items, tmp_path, monkeypatch):
    kw = dict(items=items, codecs=["opus"], kbps=[6, 12], metrics=("si-snr",), out_dir=tmp_path / "out",
              progress=False)
    E.evaluate(jobs=1, **kw)

    def no_pool(*a, **k):
        raise AssertionError("a worker pool was started for cached cells")

    monkeypatch.setattr(E, "ProcessPoolExecutor", no_pool)
    df, _, _ = E.evaluate(jobs=2, **kw)
    assert df["cached"].all() and len(df) == 4


@needs_opus
def test_a_metric_failing_on_one_cell_is_reported_for_that_cell(items, tmp_path):
    # STOI is a speech metric: on the 'music' item it is an error for that cell, never a number
    df, paths, _ = E.evaluate(items=items, codecs=["opus"], kbps=[12], metrics=("si-snr", "stoi"),
                              out_dir=tmp_path / "o", progress=False)
    bad = df[df["error"] != ""]
    assert list(zip(bad["category"], bad["metric"])) == [("music", "stoi")]
    assert np.isnan(bad["value"]).all() and "not music" in bad["error"].iloc[0]
    good = df[df["error"] == ""]
    assert len(good) == 3 and np.isfinite(good["value"]).all()
    back, _ = E.read_results(paths["json"])
    assert (back["error"] != "").sum() == 1
