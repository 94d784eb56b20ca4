"""Kill and restart under load: `mushra serve` (gunicorn, 2 workers, SQLite) is SIGKILLed while 8 clients submit
trials (with the listening-evidence checks in the path), then restarted on the same database; every submission
the server acknowledged (HTTP 200) must be in the database with exactly the scores that were sent."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from harness.ratings.db import open_database
from harness.ratings.models import Rating
from tests.webtest._study import build_study
from tests.webtest.conftest import HttpClient
from tests.webtest.test_server import _free_port

REPO = Path(__file__).resolve().parents[2]


def _start(study: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MUSHRA_RATE_LIMIT": "0", "MUSHRA_SESSION_LIMIT": ""}
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", str(study), "--port", str(port),
                             "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    c = HttpClient(f"http://127.0.0.1:{port}")
    for _ in range(300):
        try:
            if c.get("/healthz").status_code == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not come up")


@pytest.mark.slow
def test_sigkill_under_load_loses_nothing_acknowledged(tmp_path):
    study = build_study(tmp_path / "study", n_items=6, seconds=0.5,
                        rater={"trials_per_rater": 6, "training_items": 0, "ratings_per_item": 100000})
    port = _free_port()
    proc = _start(study, port)
    acked: dict[tuple[str, int], dict] = {}
    stop = threading.Event()
    lock = threading.Lock()

    def client(k: int) -> None:
        c = HttpClient(f"http://127.0.0.1:{port}")
        n = 0
        while not stop.is_set():
            try:
                r = c.post("/api/sessions", json={"participant_id": f"d{k}-{n}"})
                n += 1
                if r.status_code != 201:
                    continue
                token = r.get_json()["session"]
                step = c.get(f"/api/sessions/{token}/next").get_json()
                while step.get("kind") == "mushra" and not stop.is_set():
                    ratings = {s["id"]: float((i * 13 + k) % 90) for i, s in enumerate(step["stimuli"])}
                    ratings[step["stimuli"][0]["id"]] = 100.0
                    resp = c.post(f"/api/sessions/{token}/trials/{step['trial']}", json={"ratings": ratings})
                    if resp.status_code != 200:
                        break
                    with lock:
                        acked[(token, step["trial"])] = ratings
                    step = resp.get_json()["next"]
            except (OSError, ValueError, KeyError, http.client.HTTPException):  # killed mid-response: not acknowledged
                time.sleep(0.1)  # the server is down: retry

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    time.sleep(4.0)
    before = len(acked)
    os.killpg(proc.pid, signal.SIGKILL)  # master and workers, mid-transaction
    proc.wait(10)
    time.sleep(0.5)
    proc = _start(study, port)
    time.sleep(3.0)
    stop.set()
    for t in threads:
        t.join(60)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(20)
    print(f"acknowledged before the kill: {before}, in all: {len(acked)}")
    assert before > 20 and len(acked) > before, (before, len(acked))  # load before the kill, and after the restart
    db = open_database(f"sqlite:///{study / 'ratings.sqlite'}")
    with db.Read() as s:
        rows = s.execute(select(Rating.trial_id, Rating.score)).all()
    db.dispose()
    by_trial: dict[int, list[float]] = {}
    for tid, score in rows:
        by_trial.setdefault(tid, []).append(score)
    for (_, tid), ratings in acked.items():
        assert sorted(by_trial.get(tid, [])) == sorted(ratings.values()), f"trial {tid} lost or changed"
