"""Many raters at once through the JSON API against a real threaded server: every rating lands exactly once,
including when each submission is sent twice at the same time (a client retrying)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import select

from harness.webtest import create_app
from harness.ratings.models import Rating, Session, Trial
from tests.webtest._study import build_study
from tests.webtest.conftest import HttpClient, LiveServer, Rater, make_config

RATERS = 16


@pytest.mark.slow
def test_sixteen_raters_at_once(tmp_path, db_url):
    study = build_study(tmp_path / "study", n_items=4, rater={"trials_per_rater": 3, "ratings_per_item": 12})
    app = create_app(make_config(study, db_url))
    srv = LiveServer(app)
    errors: list[str] = []

    def rater(k: int) -> None:
        try:
            c = HttpClient(srv.url)
            r = Rater(c, f"crowd-{k}")
            while True:
                step = r.next()
                if step["kind"] == "done":
                    return
                if step["kind"] in ("training", "mushra"):
                    payload = {"ratings": Rater.ratings_for(step, score=k), "telemetry": {"focus_losses": k}}
                else:
                    payload = {"answers": {"comments": f"rater {k}"}}
                results = []
                dup = threading.Thread(target=lambda: results.append(r.post(step["trial"], payload).status_code))
                dup.start()  # the same submission twice at once, like a retry after a timeout
                results.append(r.post(step["trial"], payload).status_code)
                dup.join()
                if results != [200, 200]:
                    errors.append(f"rater {k}: {results}")
                    return  # (retrying the same step would loop forever)
        except Exception as exc:  # noqa: BLE001 - collected and reported by the main thread
            errors.append(f"rater {k}: {exc!r}")

    threads = [threading.Thread(target=rater, args=(k,)) for k in range(RATERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    srv.close()
    assert not errors, errors
    db = app.extensions["mushra"]["db"]
    with db.Read() as s:
        assert all(x.state == "done" for x in s.scalars(select(Session)))
        rows = s.execute(select(Rating.trial_id, Rating.condition, Rating.score, Session.participant_id)
                         .join(Trial, Rating.trial_id == Trial.id).join(Session)).all()
        trials = list(s.scalars(select(Trial).where(Trial.kind == "mushra")))
    assert len(rows) == RATERS * 3 * 5  # every rating exactly once
    assert max(Counter((t, c) for t, c, _, _ in rows).values()) == 1
    for t in trials:
        assert {c for tid, c, _, _ in rows if tid == t.id} == {c for _, c in t.stimuli}
    for _, _, score, pid in rows:  # each rating belongs to the rater who sent it
        k = int(pid.split("-")[1])
        assert score in (k, 100)
    load = Counter(t.item for t in trials)
    assert sorted(load.values()) == [12, 12, 12, 12]  # 48 assignments spread evenly over 4 items
    db.dispose()
