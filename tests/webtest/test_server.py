"""`mushra serve` end to end: gunicorn (2 workers) from the CLI on a free port, the study that the real
`mushra prepare` builds, and clear errors for bad input."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.webtest import create_app
from harness.ratings.export import ratings_frame
from tests.webtest._study import build_study
from tests.webtest.conftest import HttpClient, Rater, make_config

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_cli_serve_runs_gunicorn_and_takes_a_rater(tmp_path):
    study = build_study(tmp_path / "study", rater={"trials_per_rater": 2})
    port = _free_port()
    env = {**os.environ, "MUSHRA_ADMIN_TOKEN": "cli-admin", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", str(study), "--port", str(port),
                             "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            text=True, start_new_session=True)
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in first
        c = HttpClient(f"http://127.0.0.1:{port}")
        for _ in range(100):
            try:
                if c.get("/healthz").status_code == 200:
                    break
            except OSError:
                time.sleep(0.1)
        done = Rater(c, "cli-rater").finish()
        assert done["kind"] == "done"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    assert (study / "ratings.sqlite").exists()
    df = ratings_frame(f"sqlite:///{study / 'ratings.sqlite'}")
    assert len(df) == 10 and set(df["rater"]) == {"direct:cli-rater"}


def test_serve_errors_are_clear(tmp_path, capsys):
    assert main(["serve", str(tmp_path)]) == 2
    assert "mushra prepare" in capsys.readouterr().err
    study = build_study(tmp_path / "s", rater={"trials_per_rater": 1})
    assert main(["serve", str(study), "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err
    # a database that belongs to another version of the study is refused, not mixed
    other = build_study(tmp_path / "o", study_name="another", rater={"trials_per_rater": 1})
    db = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    create_app(make_config(other, db)).extensions["mushra"]["db"].dispose()
    from harness.ratings.db import DatabaseError

    with pytest.raises(DatabaseError, match="another study"):
        create_app(make_config(study, db))


def test_too_many_signals_rejected(tmp_path):
    from harness.errors import ManifestError

    study = build_study(tmp_path / "s", rater={"max_signals_per_trial": 4})
    with pytest.raises(ManifestError, match="at most 4"):
        create_app(make_config(study, f"sqlite:///{tmp_path / 'x.sqlite'}"))


@pytest.mark.slow
def test_serves_what_mushra_prepare_builds(tmp_path):
    prepare = pytest.importorskip("harness.prepare")
    from tests.study_helpers import ITEMS, OPUS, two_items, write_study

    path = write_study(tmp_path / "src", ITEMS + OPUS + "\n[rater]\ntrials_per_rater = 1\n", items=two_items())
    out = tmp_path / "prepared"
    prepare.prepare(path, out, jobs=1, progress=False)
    app = create_app(make_config(out, f"sqlite:///{out / 'ratings.sqlite'}"))
    c = app.test_client()
    r = Rater(c, "prep-rater")
    step = r.next()
    while step["kind"] != "mushra":
        r.post(step["trial"], {"ratings": {}})
        step = r.next()
    assert len(step["stimuli"]) == 5  # hidden reference, 2 anchors, 2 Opus conditions
    sizes = {len(c.get(u).data) for u in [step["reference"]] + [s["url"] for s in step["stimuli"]]}
    assert len(sizes) == 1
    assert r.finish()["kind"] == "done"
    df = ratings_frame(f"sqlite:///{out / 'ratings.sqlite'}")
    assert set(df["kind"]) == {"reference", "anchor", "codec"} and len(df) == 5
    codec = df[df["kind"] == "codec"]
    assert set(codec["codec"]) == {"opus"} and set(codec["kbps"]) == {6.0, 12.0}
    assert codec["measured_kbps"].between(4, 14).all()
    app.extensions["mushra"]["db"].dispose()


def test_serve_on_a_taken_port_says_so_and_prints_no_url(tmp_path, capsys):
    study = build_study(tmp_path / "s", rater={"trials_per_rater": 1})
    with socket.socket() as other:  # someone else's server on that port
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        port = other.getsockname()[1]
        assert main(["serve", str(study), "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert "http://" not in out  # never a URL served by someone else
    assert f"port {port} on 127.0.0.1 is already in use" in err and f"--port {port + 1}" in err
    assert "Traceback" not in err and "gunicorn" not in err.lower()
