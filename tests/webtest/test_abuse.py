"""A hostile or careless crowd against the JSON API: idle sessions cannot lock a study, an id never hands over a
session, creation and admin logins are rate-limited across workers, listening evidence is checked on the server,
telemetry is bounded, and the exports neutralise formulas and carry telemetry and flags."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from sqlalchemy import text

from harness.ratings.export import TELEMETRY_COLUMNS
from harness.ratings.models import StimulusFetch
from harness.webtest import create_app
from tests.webtest._study import build_study
from tests.webtest.conftest import ADMIN, Rater, make_config


def _app(tmp_path, rater: dict, name: str = "s", **cfg):
    study = build_study(tmp_path / name, n_items=4, rater=rater)
    return create_app(make_config(study, f"sqlite:///{tmp_path / (name + '.sqlite')}", **cfg))


def _ip(k: int) -> dict:
    return {"REMOTE_ADDR": f"10.0.{k // 250}.{k % 250 + 1}"}


def _listen_all(client, step: dict) -> None:
    for url in [step["reference"]] + [s["url"] for s in step["stimuli"]]:
        assert client.get(url).status_code == 200


def _age_fetches(app, seconds: float) -> None:
    with app.extensions["mushra"]["db"].Write.begin() as s:
        for f in s.query(StimulusFetch).all():
            f.fetched_at = f.fetched_at - dt.timedelta(seconds=seconds)


def test_forty_idle_sessions_do_not_lock_out_a_prolific_rater(tmp_path):
    app = _app(tmp_path, {"trials_per_rater": 4, "ratings_per_item": 2, "training_items": 0})
    c = app.test_client()
    for k in range(40):  # 40 anonymous sessions from 40 addresses: each would have reserved every item
        r = c.post("/api/sessions", json={}, environ_base=_ip(k))
        assert r.status_code == 201, r.get_json()
    r = c.post("/api/sessions", json={"crowd": {"PROLIFIC_PID": "real-rater", "STUDY_ID": "s"}},
               environ_base=_ip(99))
    assert r.status_code == 201, r.get_json()
    rater = Rater.__new__(Rater)
    rater.c, rater.token = c, r.get_json()["session"]
    assert rater.finish()["kind"] == "done"
    app.extensions["mushra"]["db"].dispose()


def test_session_creation_limited_per_client_across_workers(tmp_path):
    """Two app instances on one database (two gunicorn workers) share the per-client count."""
    study = build_study(tmp_path / "s", n_items=3, rater={"trials_per_rater": 1})
    url = f"sqlite:///{tmp_path / 'rl.sqlite'}"
    a = create_app(make_config(study, url, session_limit="5 per minute"))
    b = create_app(make_config(study, url, session_limit="5 per minute"))
    ca, cb = a.test_client(), b.test_client()
    codes = [(ca if k % 2 else cb).post("/api/sessions", json={}).status_code for k in range(5)]
    assert codes == [201] * 5
    refused = ca.post("/api/sessions", json={})
    assert refused.status_code == 429 and "too many new sessions" in refused.get_json()["message"]
    assert cb.post("/api/sessions", json={}).status_code == 429
    assert cb.post("/api/sessions", json={}, environ_base=_ip(7)).status_code == 201  # another client is fine
    for x in (a, b):
        x.extensions["mushra"]["db"].dispose()


def test_allow_direct_false_needs_a_crowd_id(tmp_path):
    app = _app(tmp_path, {"trials_per_rater": 1, "allow_direct": False})
    c = app.test_client()
    r = c.post("/api/sessions", json={"participant_id": "me"})
    assert r.status_code == 403 and r.get_json()["error"] == "crowd_id_required"
    assert c.post("/api/sessions", json={}).status_code == 403
    assert c.post("/api/sessions", json={"crowd": {"workerId": "W1"}}).status_code == 201
    app.extensions["mushra"]["db"].dispose()


@pytest.mark.parametrize("require", [False, True], ids=["flag", "reject"])
def test_trial_submitted_before_its_audio_was_fetched(tmp_path, require):
    app = _app(tmp_path, {"trials_per_rater": 2, "training_items": 0, "require_full_listening": require,
                          "min_listen_fraction": 0.5})
    c = app.test_client()
    r = Rater(c, "bot")
    step = r.next()
    payload = {"ratings": Rater.ratings_for(step)}
    first = r.post(step["trial"], payload)  # nothing downloaded
    if require:
        assert first.status_code == 422 and first.get_json()["error"] == "not_listened"
        assert "never loaded" in first.get_json()["message"]
        _listen_all(c, step)
        too_fast = r.post(step["trial"], payload)  # downloaded, but answered at once
        assert too_fast.status_code == 422 and "sooner" in too_fast.get_json()["message"]
        _age_fetches(app, 60)  # the audio arrived a minute ago: time enough to hear 5 x 1.5 s x 0.5
        assert r.post(step["trial"], payload).status_code == 200
    else:
        assert first.status_code == 200
        step2 = r.next()
        _listen_all(c, step2)
        _age_fetches(app, 60)
        assert r.post(step2["trial"], {"ratings": Rater.ratings_for(step2)}).status_code == 200
    c.post("/api/sessions/" + r.token + "/trials/" + str(r.next()["trial"]), json={"answers": {}})
    _login(c)
    df = pd.read_csv(io.StringIO(c.get("/admin/export/ratings.csv").get_data(as_text=True)), keep_default_na=False)
    flags = df.groupby("trial")["trial_flags"].first().tolist()
    assert flags == ([""] if require else ["not_fetched", ""])
    if not require:  # flags reach screening: exclude_flagged drops the rater, the default only reports it
        from harness.analysis.load import validate_ratings
        from harness.inference.screening import preset, screen

        frame = validate_ratings(df)
        assert screen(frame, preset("bs1534"))["server_flagged"].all()
        assert screen(frame, preset("bs1534", exclude_flagged=True))["excluded"].all()
    app.extensions["mushra"]["db"].dispose()


def _login(client) -> None:
    page = client.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert client.post("/admin/login", data={"csrf": csrf, "token": ADMIN}).status_code == 302


@pytest.mark.parametrize("telemetry,needle", [
    ({"plays": {"X": 1e300}}, "plays"), ({"reference_plays": -3}, "reference_plays"),
    ({"time_on_page_ms": float("inf")}, None), ({"blob": "a" * 1000}, "unknown fields"),
    ({"loop_s": [0, 1, 2]}, "loop_s"), ({"listen_ms": {f"k{i}": 1 for i in range(40)}}, "listen_ms"),
])
def test_telemetry_is_bounded(client, telemetry, needle):
    r = Rater(client, "t")
    step = r.next()
    if "plays" in telemetry:
        telemetry = {"plays": {step["stimuli"][0]["id"]: 1e300}}
    if needle is None:  # JSON has no infinity: the body is not valid JSON
        resp = client.post(f"/api/sessions/{r.token}/trials/{step['trial']}", data='{"telemetry": {"x": Infinity}}',
                           content_type="application/json")
        assert resp.status_code == 400
        return
    resp = r.post(step["trial"], {"ratings": {}, "telemetry": telemetry})
    assert resp.status_code == 400 and resp.get_json()["error"] == "bad_telemetry"
    assert needle in resp.get_json()["message"]


def test_device_is_bounded(client):
    r = client.post("/api/sessions", json={"device": {"screen": [1, 2], "lang": "x" * 500}})
    assert r.status_code == 400 and "device.lang" in r.get_json()["message"]
    r = client.post("/api/sessions", json={"device": {"gpu": "y"}})
    assert r.status_code == 400 and r.get_json()["error"] == "bad_device"


def test_exports_neutralise_formulas_and_carry_telemetry(client):
    evil = '=HYPERLINK("http://evil.example","x")'
    r = Rater(client, evil)
    while (step := r.next())["kind"] != "done":
        if step["kind"] in ("training", "mushra"):
            ids = [s["id"] for s in step["stimuli"]]
            body = {"ratings": Rater.ratings_for(step), "telemetry": {
                "plays": {i: 2 for i in ids}, "listen_ms": {i: 1500.0 for i in ids}, "loop_changes": 3,
                "loop_s": [0.2, 0.9], "time_on_page_ms": 45000, "reference_plays": 4}}
        else:
            body = {"answers": {"comments": "@SUM(1+1)", "device": "earbuds"}}
        assert r.post(step["trial"], body).status_code == 200
    _login(client)
    text_csv = client.get("/admin/export/ratings.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in text_csv and ',=HYPERLINK' not in text_csv and ',"=HYPERLINK' not in text_csv
    df = pd.read_csv(io.StringIO(text_csv))
    assert set(TELEMETRY_COLUMNS) <= set(df.columns)
    assert (df["plays"] == 2).all() and (df["listen_ms"] == 1500).all() and (df["loop_changes"] == 3).all()
    assert (df["loop_start_s"] == 0.2).all() and (df["time_on_page_ms"] == 45000).all()
    assert (df["time_on_trial_ms"] >= 0).all() and df["trial_flags"].notna().all()
    sess_csv = client.get("/admin/export/sessions.csv").get_data(as_text=True)
    assert "'@SUM(1+1)" in sess_csv and "'=HYPERLINK" in sess_csv
    sessions = pd.read_csv(io.StringIO(sess_csv))
    assert sessions.loc[0, "q_device"] == "earbuds"
    js = client.get("/admin/export/ratings.json").get_json()
    assert js["format"] == "mushra-ratings" and len(js["rows"]) == len(df)
    assert js["rows"][0]["participant_id"] == evil  # JSON keeps the exact value (no spreadsheet there)
    assert client.get("/admin/export/sessions.json").get_json()["rows"][0]["q_comments"] == "@SUM(1+1)"


def test_screened_out_raters_are_exported_and_marked(tmp_path):
    app = _app(tmp_path, {"trials_per_rater": 1, "headphone_check": True})
    c = app.test_client()
    bad = Rater(c, "bad")
    while (step := bad.next())["kind"] != "headphone":
        bad.post(step["trial"], {"ratings": {}})
    answers = {t["id"]: 1 for t in step["tests"]}
    bad.post(step["trial"], {"answers": answers})
    if bad.next().get("screened_out"):
        _login(c)
        sessions = pd.read_csv(io.StringIO(c.get("/admin/export/sessions.csv").get_data(as_text=True)))
        assert sessions["screened_out"].all()
    good = Rater(c, "good")
    good.finish()
    _login(c)
    totals = c.get("/admin/").get_data(as_text=True)
    assert re.search(r"2 sessions in all: 1 done", totals)
    app.extensions["mushra"]["db"].dispose()


def test_headphone_check_has_no_byte_level_answer(client):
    r = Rater(client, "h")
    from harness.webtest import headphone

    stats = []
    for target in (1, 2, 3):
        x, sr = sf.read(io.BytesIO(headphone.trial_audio(target, 4242, 16000)), always_2d=True)
        seg, n = int(1.5 * sr), sr
        per = [x[i * seg:i * seg + n] for i in range(3)]
        stats.append([(np.sqrt(np.mean(p[:, 0] ** 2)), np.sqrt(np.mean(p[:, 1] ** 2)),
                       np.sqrt(np.mean((p[:, 0] + p[:, 1]) ** 2)), np.sqrt(np.mean((p[:, 0] - p[:, 1]) ** 2)),
                       float(np.mean(p[:, 0] == p[:, 1]))) for p in per])
    stats = np.asarray(stats)  # [target, interval, statistic]
    # level, left+right, left-right and channel identity do not move with the target: no simple-statistics bot
    assert np.abs(stats - stats[0]).max() < 0.01 * stats[..., :4].max()
    sizes = {len(headphone.trial_audio(t, s, 16000)) for t in (1, 2, 3) for s in (1, 2)}
    assert len(sizes) == 1
    assert r.next()["kind"] in ("training", "mushra")


def test_admin_login_throttled_and_cookie_secure_behind_https(tmp_path):
    app = _app(tmp_path, {"trials_per_rater": 1}, trust_proxy=True, login_limit="5 per minute")
    c = app.test_client()
    fwd = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "study.example.org"}
    page = c.get("/admin/login", headers=fwd)
    cookie = page.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    codes = [c.post("/admin/login", data={"csrf": csrf, "token": "guess"}, headers=fwd).status_code
             for _ in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    assert c.post("/admin/login", data={"csrf": csrf, "token": ADMIN}, headers=fwd).status_code == 429  # locked
    plain = app.test_client().get("/admin/login", headers={"X-Forwarded-For": "203.0.113.10"})
    assert "Secure" not in plain.headers.get("Set-Cookie", "")  # plain HTTP (local testing): no Secure flag
    app.extensions["mushra"]["db"].dispose()


def test_schema_1_database_is_migrated_without_losing_ratings(tmp_path):
    study = build_study(tmp_path / "s", n_items=3, rater={"trials_per_rater": 1})
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    app = create_app(make_config(study, url))
    Rater(app.test_client(), "old").finish()
    db = app.extensions["mushra"]["db"]
    with db.writer.begin() as conn:  # turn it into a schema-1 database
        conn.execute(text("DROP TABLE stimulus_fetches"))
        conn.execute(text("DROP TABLE rate_limits"))
        conn.execute(text("ALTER TABLE trials DROP COLUMN flags"))
        conn.execute(text("UPDATE mushra_meta SET value = '1' WHERE key = 'schema_version'"))
    db.dispose()
    app2 = create_app(make_config(study, url))
    from harness.ratings.export import ratings_frame

    assert len(ratings_frame(url)) == 5  # the old ratings are all there
    assert Rater(app2.test_client(), "new").finish()["kind"] == "done"
    assert len(ratings_frame(url)) == 10
    with app2.extensions["mushra"]["db"].Read() as s:
        assert s.execute(text("SELECT value FROM mushra_meta WHERE key='schema_version'")).scalar() == "2"
    app2.extensions["mushra"]["db"].dispose()


def test_texts_from_the_study_and_translations(tmp_path):
    app = _app(tmp_path, {"trials_per_rater": 1, "text": {"consent_label": "Yes, I consent"},
                          "translations": {"fr": {"start": "Commencer"}}})
    c = app.test_client()
    en = c.get("/").get_data(as_text=True)
    assert "Yes, I consent" in en and 'lang="en"' in en
    de = c.get("/?lang=de").get_data(as_text=True)
    assert "Ich bin mit der Teilnahme einverstanden" in de and 'lang="de"' in de and "Schlecht" in de
    fr = c.get("/?lang=fr").get_data(as_text=True)
    assert "Commencer" in fr and "Yes, I consent" in fr  # falls back key by key
    texts = json.loads(re.search(r'<script type="application/json" id="texts">(.*?)</script>', de, re.S).group(1))
    assert texts["gate_play"] == "jeden Klang abspielen"
    app.extensions["mushra"]["db"].dispose()
    from harness.errors import ManifestError

    with pytest.raises(ManifestError, match="unknown text 'consnet'"):
        _app(tmp_path, {"trials_per_rater": 1, "text": {"consnet": "x"}}, name="t2")


def test_training_uses_an_item_that_is_not_rated(tmp_path):
    app = _app(tmp_path, {"trials_per_rater": 2, "training_items": 1})
    c = app.test_client()
    for k in range(6):
        r = Rater(c, f"tr{k}")
        with app.extensions["mushra"]["db"].Read() as s:
            from harness.ratings.models import Session

            sess = s.query(Session).filter_by(token=r.token).one()
            train = [t.item for t in sess.trials if t.kind == "training"]
            assert len(train) == 1 and train[0] not in sess.assigned_items
    app.extensions["mushra"]["db"].dispose()
    with pytest.warns(UserWarning, match="train on items they then rate"):
        _app(tmp_path, {"trials_per_rater": 4, "training_items": 1}, name="all")
