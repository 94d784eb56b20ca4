"""A scripted crowd completes a study through the JSON API. Each simulated rater identifies every stimulus by
*listening* (comparing the served audio with the study's files) and rates it by its condition; the export must
give back exactly the planned score per condition: the opaque id -> condition mapping is right end to end."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from harness.ratings.export import ratings_frame
from tests.webtest._study import CONDITIONS
from tests.webtest.conftest import Rater

PLAN = {"reference": 100.0, "lp3.5": 15.0, "lp7": 42.0, "fakecodec_6": 55.0, "fakecodec_12": 81.0}


def _identify(client, url: str, item_files: dict[str, np.ndarray]) -> str:
    x, _ = sf.read(io.BytesIO(client.get(url).data), dtype="float32", always_2d=True)
    matches = [c for c, ref in item_files.items() if ref.shape == x.shape and np.array_equal(ref, x)]
    assert len(matches) == 1, matches
    return matches[0]


def test_scripted_crowd_scores_land_on_the_right_conditions(app, client, db_url):
    study = app.extensions["mushra"]["study"]
    files = {item: {c.id: sf.read(str(study.path(item, c.id)), dtype="float32", always_2d=True)[0]
                    for c in CONDITIONS} for item in study.items}
    for k in range(4):
        r = Rater(client, f"listener-{k}")
        while (step := r.next())["kind"] != "done":
            if step["kind"] in ("training", "mushra"):
                # which item? the open reference is identical to the hidden reference of its item
                ref_audio, _ = sf.read(io.BytesIO(client.get(step["reference"]).data), dtype="float32",
                                       always_2d=True)
                item = next(i for i, f in files.items() if np.array_equal(f["reference"], ref_audio))
                ratings = {s["id"]: PLAN[_identify(client, s["url"], files[item])] for s in step["stimuli"]}
                payload = {"ratings": ratings}
            else:
                payload = {"answers": {"comments": "scripted"}}
            assert r.post(step["trial"], payload).status_code == 200
    df = ratings_frame(db_url, study_dir=study.folder)
    assert len(df) == 4 * 2 * len(PLAN)
    means = df.groupby("condition")["score"].agg(["mean", "std"])
    assert means["mean"].to_dict() == PLAN and (means["std"] == 0).all()
