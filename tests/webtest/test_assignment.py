"""Balanced assignment of items, release of abandoned sessions, a full study, and the headphone check."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

from sqlalchemy import select, update

from harness.webtest import create_app, flow
from harness.ratings.models import HeadphoneAnswer, Session, Trial
from tests.webtest._study import build_study
from tests.webtest.conftest import Rater, correct_headphone_answers, make_config


def test_choose_items_least_loaded_first():
    rng = random.Random(1)
    assert sorted(flow.choose_items({"a": 3, "b": 0, "c": 1, "d": 0}, 2, rng)) == ["b", "d"]
    picks = Counter(x for _ in range(400) for x in flow.choose_items({"a": 0, "b": 0, "c": 0}, 1, rng))
    assert min(picks.values()) > 100  # random tie-break covers every tied item


def _app(tmp_path, rater, name="s"):
    study = build_study(tmp_path / name, n_items=5, rater=rater)
    return create_app(make_config(study, f"sqlite:///{tmp_path / (name + '.sqlite')}"))


def test_items_reach_their_target_evenly(tmp_path):
    app = _app(tmp_path, {"trials_per_rater": 2, "ratings_per_item": 4, "training_items": 0})
    c = app.test_client()
    for k in range(10):  # 10 raters x 2 items = 20 = 5 items x 4 ratings
        Rater(c, f"p{k}").finish()
    with app.extensions["mushra"]["db"].Read() as s:
        items = Counter(s.scalars(select(Trial.item).where(Trial.kind == "mushra", Trial.submitted_at.is_not(None))))
    assert sorted(items.values()) == [4, 4, 4, 4, 4]
    full = c.post("/api/sessions", json={})
    assert full.status_code == 409 and full.get_json()["error"] == "study_full"
    assert c.post("/api/sessions", json={"participant_id": "p3"}).status_code == 409  # an id never hands over


def test_abandoned_sessions_release_their_items(tmp_path):
    app = _app(tmp_path, {"trials_per_rater": 5, "ratings_per_item": 1, "training_items": 0,
                          "session_timeout_minutes": 30})
    c = app.test_client()
    idle = Rater(c, "idle")  # never submits anything: reserves nothing
    assert c.post("/api/sessions", json={}).status_code == 201
    slow = Rater(c, "slow")  # submits one trial: now holds all 5 items (1 done + 4 in progress)
    step = slow.next()
    assert slow.post(step["trial"], {"ratings": Rater.ratings_for(step)}).status_code == 200
    assert idle.next()["kind"] == "mushra"
    assert c.post("/api/sessions", json={}).status_code == 409  # everything promised
    db = app.extensions["mushra"]["db"]
    with db.Write.begin() as s:
        s.execute(update(Session).values(last_seen=dt.datetime.utcnow() - dt.timedelta(minutes=31)))
    assert c.post("/api/sessions", json={}).status_code == 201


def test_headphone_check_pass_and_screen_out(tmp_path):
    app = _app(tmp_path, {"trials_per_rater": 1, "headphone_check": True})
    c = app.test_client()
    settings = app.extensions["mushra"]["study"].settings
    good = Rater(c, "good")
    assert good.finish() == {"kind": "done", "completion_code": settings.completion_code, "screened_out": False}

    bad = Rater(c, "bad")
    step = bad.next()
    while step["kind"] != "headphone":
        bad.post(step["trial"], {"ratings": {}})
        step = bad.next()
    assert len(step["tests"]) == 6 and step["choices"] == [1, 2, 3]
    sizes = {len(c.get(t["url"]).data) for t in step["tests"]}
    assert len(sizes) == 1  # the answer cannot leak through sizes
    right = correct_headphone_answers(c, bad.token, step)
    wrong = {k: (v % 3) + 1 for k, v in right.items()}
    wrong[next(iter(wrong))] = right[next(iter(right))]  # 1 of 6 correct
    assert bad.post(step["trial"], {"answers": {"x": 1}}).status_code == 422
    assert bad.post(step["trial"], {"answers": wrong}).status_code == 200
    done = bad.next()
    assert done["kind"] == "done" and done["screened_out"] is True
    assert done["completion_code"] == settings.screened_out_code
    with app.extensions["mushra"]["db"].Read() as s:
        answers = list(s.scalars(select(HeadphoneAnswer)))
        assert sum(a.answer == a.correct for a in answers) == 6 + 1
    frame = __import__("harness.ratings.export", fromlist=["x"]).sessions_frame(app.extensions["mushra"]["config"].db_url)
    assert list(frame.sort_values("rater")["headphone_correct"]) == [1, 6]
