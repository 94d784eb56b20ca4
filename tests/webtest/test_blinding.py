"""Blinding: nothing the browser receives names a condition, codec, bitrate or file; all stimuli of a trial are
served with identical headers and sizes; opaque ids differ between sessions and trials."""

from __future__ import annotations

import re

from tests.webtest.conftest import Rater
from tests.webtest._study import CONDITIONS

# condition ids (except "reference", the open reference's role word used in the JSON key and on the page),
# labels, codec names, bitrates, file names and folders of the prepared study
SECRETS = ([c.id for c in CONDITIONS if c.id != "reference"] + [c.label for c in CONDITIONS]
           + ["fakecodec", "kbps", "lp3", "anchor", ".wav", "stimuli/", "reference/item", "item1", "item2", "item3"])


def _opaque(m: re.Match) -> str:
    tok = m.group()
    mixed = any(c.isdigit() for c in tok) + any(c.isupper() for c in tok) + any(c.islower() for c in tok) >= 2
    return "" if mixed else tok


def _leaks(text: str) -> list[str]:
    # drop the random opaque ids (URL-safe base64, 16+ characters) first: a random id can contain "lp7" by chance
    low = re.sub(r"[A-Za-z0-9_-]{16,}", _opaque, text).lower()
    return [s for s in SECRETS if s.lower() in low]


def test_no_condition_names_reach_the_browser(client):
    r = Rater(client)
    bodies = [client.get("/").get_data(as_text=True)]
    for asset in ("mushra.js", "trial.js", "player.js", "style.css"):
        bodies.append(client.get(f"/static/{asset}").get_data(as_text=True))
    headers = []
    while True:
        resp = client.get(f"/api/sessions/{r.token}/next")
        step = resp.get_json()
        bodies.append(resp.get_data(as_text=True))
        headers.append(str(resp.headers))
        if step["kind"] == "done":
            break
        if step["kind"] in ("training", "mushra"):
            sizes, hdrs = set(), set()
            for url in [step["reference"]] + [s["url"] for s in step["stimuli"]]:
                a = client.get(url)
                assert a.status_code == 200
                sizes.add(len(a.data))
                h = {k: v for k, v in a.headers.items()}
                assert h["Content-Type"] == "audio/wav" and h["Cache-Control"] == "no-store"
                assert not {"ETag", "Last-Modified", "Content-Disposition"} & set(h)
                hdrs.add(tuple(sorted(h.items())))
                headers.append(str(a.headers))
                assert b"LIST" not in a.data[:200]  # no metadata chunk
            assert len(sizes) == 1, f"stimuli of one item differ in size: {sizes}"
            assert len(hdrs) == 1, "stimuli of one item differ in response headers"
            payload = {"ratings": Rater.ratings_for(step)}
        else:
            payload = {"answers": {}}
        post = r.post(step["trial"], payload)
        bodies.append(post.get_data(as_text=True))
        headers.append(str(post.headers))
    for text in bodies + headers:
        assert not _leaks(text), _leaks(text)


def test_opaque_ids_unique_and_order_randomised(client):
    orders, ids = set(), set()
    for k in range(6):
        r = Rater(client)
        step = r.next()
        while step["kind"] != "mushra":
            r.post(step["trial"], {"ratings": {}})
            step = r.next()
        # identify the hidden reference only through the server's own database mapping
        with client.application.extensions["mushra"]["db"].Read() as s:
            from harness.ratings.models import Trial

            issued = s.get(Trial, step["trial"]).stimuli
        orders.add(tuple(c for _, c in issued))
        new_ids = {s["id"] for s in step["stimuli"]} | {step["reference"].rsplit("/", 1)[1]}
        assert not ids & new_ids
        ids |= new_ids
        assert all(len(i) >= 16 for i in new_ids)
    assert len(orders) > 1, "stimulus order must be randomised per rater and trial"
