"""Fixtures for the web app: a small prepared study, a database per test (SQLite, and PostgreSQL when
MUSHRA_TEST_PG_URL is set), the app and a JSON client that takes the test like a script would."""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

import pytest

from harness.webtest import AppConfig, create_app
from tests.webtest._study import build_study

PG_URL = os.environ.get("MUSHRA_TEST_PG_URL")
ADMIN = "test-admin-token"
DB_PARAMS = ["sqlite", pytest.param("postgres", marks=[
    pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason="MUSHRA_TEST_PG_URL not set (./dev test sets it)")])]


@pytest.fixture
def pg_database():
    """A fresh PostgreSQL database for one test (so xdist workers never collide); dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = "mushra_t_" + secrets.token_hex(6)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=DB_PARAMS)
def db_url(request, tmp_path: Path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("pg_database")
    return f"sqlite:///{tmp_path / 'ratings.sqlite'}"


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    return build_study(tmp_path / "study", rater={"trials_per_rater": 2, "ratings_per_item": 4})


def make_config(study: Path, db_url: str, **kw) -> AppConfig:
    kw.setdefault("rate_limit_per_s", 0)
    kw.setdefault("session_limit", "")  # tests that check the per-client limits set them explicitly
    kw.setdefault("login_limit", "")
    return AppConfig(study_dir=study, db_url=db_url, secret_key="test-secret", admin_token=ADMIN, **kw)


@pytest.fixture
def app(study_dir: Path, db_url: str):
    a = create_app(make_config(study_dir, db_url))
    yield a
    a.extensions["mushra"]["db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class Rater:
    """Takes a study through the JSON API exactly as the page does (test client or real HTTP)."""

    def __init__(self, client, participant_id: str | None = None, **extra):
        self.c = client
        body = {"participant_id": participant_id} if participant_id else {}
        body.update(extra)
        r = self.c.post("/api/sessions", json=body)
        assert r.status_code in (200, 201), r.get_json()
        self.token = r.get_json()["session"]

    def next(self) -> dict:
        r = self.c.get(f"/api/sessions/{self.token}/next")
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def post(self, trial: int, payload: dict, token: str | None = None):
        return self.c.post(f"/api/sessions/{token or self.token}/trials/{trial}", json=payload)

    @staticmethod
    def ratings_for(step: dict, score=70) -> dict:
        ratings = {s["id"]: score for s in step["stimuli"]}
        ratings[step["stimuli"][0]["id"]] = 100
        return ratings

    def finish(self) -> dict:
        """Answer every step (training, headphone correctly, trials, questionnaire); return the done step."""
        while True:
            step = self.next()
            kind = step["kind"]
            if kind == "done":
                return step
            if kind in ("training", "mushra"):
                payload = {"ratings": self.ratings_for(step), "telemetry": {"plays": {s["id"]: 1 for s in step["stimuli"]}}}
            elif kind == "headphone":
                payload = {"answers": correct_headphone_answers(self.c, self.token, step)}
            else:
                payload = {"answers": {"device": "closed headphones"}}
            r = self.post(step["trial"], payload)
            assert r.status_code == 200, r.get_json()


def correct_headphone_answers(client, token: str, step: dict) -> dict:
    """Find the Huggins-pitch interval the way a script that knows the test's design must: the interval whose
    channels are in antiphase in the 600 Hz band (cross-spectrum), not by level or by comparing channels."""
    import io

    import numpy as np
    import soundfile as sf

    from harness.webtest import headphone

    out = {}
    for t in step["tests"]:
        x, sr = sf.read(io.BytesIO(client.get(t["url"]).data), always_2d=True)
        seg, n = int((headphone.NOISE_S + headphone.GAP_S) * sr), int(headphone.NOISE_S * sr)
        f = np.fft.rfftfreq(n, 1.0 / sr)
        band = np.abs(f - headphone.CENTER_HZ) <= headphone.HALF_BAND_HZ
        corr = []
        for i in range(3):
            left, right = (np.fft.rfft(x[i * seg:i * seg + n, c]) for c in (0, 1))
            corr.append(float(np.real(np.sum(left[band] * np.conj(right[band])))))
        out[t["id"]] = int(np.argmin(corr)) + 1
    return out


class LiveServer:
    """The app on a real werkzeug server in a thread, on 127.0.0.1 and a free port."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self.srv = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.srv.server_port}"
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.thread.join(5)


@pytest.fixture
def live_server(app):
    srv = LiveServer(app)
    yield srv
    srv.close()


class HttpResponse:
    def __init__(self, status: int, body: bytes, headers):
        self.status_code, self.data, self.headers = status, body, headers

    def get_json(self):
        import json

        return json.loads(self.data)


class HttpClient:
    """Just enough of Flask's test-client interface (get/post json) over real HTTP, for :class:`Rater`."""

    def __init__(self, base: str):
        self.base = base

    def _do(self, method: str, path: str, body: bytes | None, headers: dict) -> HttpResponse:
        import urllib.error
        import urllib.request

        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return HttpResponse(r.status, r.read(), r.headers)
        except urllib.error.HTTPError as e:
            return HttpResponse(e.code, e.read(), e.headers)

    def get(self, path: str) -> HttpResponse:
        return self._do("GET", path, None, {})

    def post(self, path: str, json=None) -> HttpResponse:
        import json as _json

        return self._do("POST", path, _json.dumps(json).encode(), {"Content-Type": "application/json"})
