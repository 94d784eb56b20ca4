"""JSON API through the Flask test client, on SQLite and (when available) PostgreSQL: the full path, forged,
replayed, out-of-range and cross-session requests, idempotent retries, crowd ids and resume."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from harness.ratings.models import Rating, Session, Trial
from tests.webtest.conftest import Rater


def _to_mushra(r: Rater) -> dict:
    step = r.next()
    while step["kind"] != "mushra":
        assert step["kind"] in ("training", "headphone")
        assert r.post(step["trial"], {"ratings": {}}).status_code == 200
        step = r.next()
    return step


def _count(app, model) -> int:
    with app.extensions["mushra"]["db"].Read() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_full_session_and_done_code(app, client):
    r = Rater(client, "P-1")
    steps, carried = [], None
    while True:
        step = r.next()
        assert carried is None or carried == step  # the answer to a submission carries the next step
        steps.append(step["kind"])
        if step["kind"] == "done":
            break
        if step["kind"] == "training":
            assert step["rules"]["require_one_at_100"] is False
            payload = {"ratings": {}}
        elif step["kind"] == "mushra":
            assert set(step) >= {"trial", "reference", "stimuli"}
            assert len(step["stimuli"]) == 5 and all(set(s) == {"id", "url"} for s in step["stimuli"])
            payload = {"ratings": Rater.ratings_for(step), "telemetry": {"plays": {step["stimuli"][0]["id"]: 3}}}
        else:
            payload = {"answers": {"device": "earbuds", "comments": "fine"}}
        answer = r.post(step["trial"], payload).get_json()
        assert answer["status"] == "saved" and answer["trial"] == step["trial"]
        carried = answer["next"]
    assert steps == ["training", "mushra", "mushra", "questionnaire", "done"]
    settings = app.extensions["mushra"]["study"].settings
    assert step["completion_code"] == settings.completion_code and step["screened_out"] is False
    assert _count(app, Rating) == 2 * 5  # training ratings are not stored
    with app.extensions["mushra"]["db"].Read() as s:
        sess = s.scalar(select(Session))
        assert sess.state == "done" and sess.participant_id == "direct:P-1"
        assert sorted(r.plays for r in s.scalars(select(Rating))) == [0] * 8 + [3, 3]


def test_status_endpoint_and_unknown_session(client):
    r = Rater(client)
    assert client.get(f"/api/sessions/{r.token}").get_json()["state"] == "active"
    bad = client.get("/api/sessions/not-a-token/next")
    assert bad.status_code == 404 and bad.get_json()["error"] == "unknown_session"


def test_idempotent_retry_and_conflicting_replay(app, client):
    r = Rater(client)
    step = _to_mushra(r)
    payload = {"ratings": Rater.ratings_for(step), "telemetry": {"focus_losses": 1}}
    assert r.post(step["trial"], payload).get_json()["status"] == "saved"
    again = r.post(step["trial"], {**payload, "telemetry": {"focus_losses": 2}})
    assert again.status_code == 200 and again.get_json()["status"] == "already saved"
    changed = dict(payload["ratings"])
    changed[step["stimuli"][1]["id"]] = 5
    conflict = r.post(step["trial"], {"ratings": changed})
    assert conflict.status_code == 409 and conflict.get_json()["error"] == "already_submitted"
    assert _count(app, Rating) == 5


@pytest.mark.parametrize("mutate, status, code", [
    (lambda rt, st: rt.pop(st["stimuli"][2]["id"]), 422, "missing_ratings"),
    (lambda rt, st: rt.__setitem__("forged-id", 50), 422, "unknown_stimuli"),
    (lambda rt, st: rt.__setitem__(st["stimuli"][1]["id"], 101), 422, "score_out_of_range"),
    (lambda rt, st: rt.__setitem__(st["stimuli"][1]["id"], -0.5), 422, "score_out_of_range"),
    (lambda rt, st: rt.__setitem__(st["stimuli"][1]["id"], "80"), 422, "bad_score"),
    (lambda rt, st: rt.__setitem__(st["stimuli"][1]["id"], True), 422, "bad_score"),
    (lambda rt, st: rt.update({k: 90 for k in rt}), 422, "none_at_100"),
])
def test_invalid_ratings_rejected_and_nothing_saved(app, client, mutate, status, code):
    r = Rater(client)
    step = _to_mushra(r)
    ratings = Rater.ratings_for(step)
    mutate(ratings, step)
    resp = r.post(step["trial"], {"ratings": ratings})
    assert resp.status_code == status and resp.get_json()["error"] == code, resp.get_json()
    assert "Traceback" not in resp.get_data(as_text=True)
    assert _count(app, Rating) == 0
    assert r.post(step["trial"], {"ratings": Rater.ratings_for(step)}).status_code == 200  # still open


def test_cross_session_and_unissued_trials(app, client):
    a, b = Rater(client), Rater(client)
    step_a = _to_mushra(a)
    stolen = b.post(step_a["trial"], {"ratings": Rater.ratings_for(step_a)})
    assert stolen.status_code == 404 and stolen.get_json()["error"] == "unknown_trial"
    with app.extensions["mushra"]["db"].Read() as s:  # a later trial of a's session, not issued yet
        later = s.scalar(select(Trial.id).where(Trial.kind == "questionnaire",
                                                Trial.session.has(Session.token == a.token)))
    early = a.post(later, {"answers": {}})
    assert early.status_code == 409 and early.get_json()["error"] == "not_issued"
    # b's audio URL with a's stimulus id does not resolve
    oid = step_a["stimuli"][0]["id"]
    assert client.get(f"/audio/{b.token}/{oid}").status_code == 404
    assert _count(app, Rating) == 0


def test_malformed_requests(client):
    r = Rater(client)
    step = r.next()
    url = f"/api/sessions/{r.token}/trials/{step['trial']}"
    form = client.post(url, data="ratings=1", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415 and form.get_json()["error"] == "json_required"
    bad_json = client.post(url, data="{nope", content_type="application/json")
    assert bad_json.status_code == 400 and bad_json.get_json()["error"] == "bad_json"
    assert client.post(url, json=[1, 2]).status_code == 400
    assert client.post(url, json={"ratings": {}, "extra": 1}).get_json()["error"] == "unknown_fields"
    assert client.post(url, json={"ratings": {}, "telemetry": "x"}).get_json()["error"] == "bad_telemetry"
    cross = client.post(url, json={"ratings": {}}, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403 and cross.get_json()["error"] == "bad_origin"
    same = client.post(url, json={"ratings": {}}, headers={"Origin": "http://localhost"})
    assert same.status_code == 200
    huge = client.post("/api/sessions", json={"device": {"x": "a" * 400_000}})
    assert huge.status_code == 413 and huge.is_json
    assert client.get("/api/nowhere").get_json()["error"] == "not_found"
    assert client.post("/api/sessions", json={"participant_id": 5}).status_code == 400


def test_one_session_per_participant_and_resume(client):
    first = client.post("/api/sessions", json={"crowd": {"PROLIFIC_PID": "abc", "STUDY_ID": "s1",
                                                         "SESSION_ID": "x9"}})
    assert first.status_code == 201
    body = first.get_json()
    assert body["resumed"] is False and body["resume_url"].endswith("?resume=" + body["session"])
    # a second client with the same Prolific id does not get the first one's token...
    again = client.post("/api/sessions", json={"crowd": {"PROLIFIC_PID": "abc"}})
    assert again.status_code == 409 and again.get_json()["error"] == "participant_has_session"
    assert body["session"] not in again.get_data(as_text=True) and "resume link" in again.get_json()["message"]
    # ...ids are namespaced by platform: the same id on MTurk or as a direct link is another person
    assert client.post("/api/sessions", json={"crowd": {"workerId": "abc"}}).status_code == 201
    assert client.post("/api/sessions", json={"participant_id": "abc"}).status_code == 201
    # the resume link (the token) still works
    resume = client.get("/?resume=" + body["session"])
    assert resume.status_code == 200
    r = Rater.__new__(Rater)
    r.c, r.token = client, body["session"]
    assert client.get(f"/api/sessions/{r.token}").get_json()["state"] == "active"
    done = r.finish()
    assert done["completion_url"].endswith("cc=" + done["completion_code"])  # Prolific redirect
    assert client.post("/api/sessions", json={"crowd": {"PROLIFIC_PID": "abc"}}).status_code == 409
    assert r.next()["kind"] == "done"  # resuming a finished session shows the code again


def test_rate_limit(study_dir, tmp_path):
    from harness.webtest import create_app
    from tests.webtest.conftest import make_config

    app = create_app(make_config(study_dir, f"sqlite:///{tmp_path / 'rl.sqlite'}", rate_limit_per_s=0.01,
                                 rate_burst=3))
    c = app.test_client()
    codes = [c.get("/healthz").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[-1] == 429
    assert c.get("/healthz").get_json()["error"] == "rate_limited"
    app.extensions["mushra"]["db"].dispose()


def test_behind_a_reverse_proxy(study_dir, tmp_path):
    from harness.webtest import create_app
    from tests.webtest.conftest import make_config

    app = create_app(make_config(study_dir, f"sqlite:///{tmp_path / 'px.sqlite'}", rate_limit_per_s=0.01,
                                 rate_burst=2, trust_proxy=True))
    c = app.test_client()
    fwd = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "study.example.org"}
    r = c.post("/api/sessions", json={}, headers={**fwd, "Origin": "https://study.example.org"})
    assert r.status_code == 201 and r.get_json()["resume_url"].startswith("https://study.example.org/")
    assert c.post("/api/sessions", json={}, headers={**fwd, "Origin": "https://evil.example"}).status_code == 403
    assert c.get("/healthz", headers=fwd).status_code == 429  # this client's bucket is empty...
    assert c.get("/healthz", headers={**fwd, "X-Forwarded-For": "198.51.100.1"}).status_code == 200  # ...not others'
    app.extensions["mushra"]["db"].dispose()
