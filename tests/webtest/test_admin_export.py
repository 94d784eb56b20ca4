"""Admin: token from the environment (no default), CSRF-protected login and forms, dashboard, CSV exports with
exactly the shared contract's columns; ratings_frame from the database."""

from __future__ import annotations

import io
import re

import pandas as pd

from harness.webtest import create_app
from harness.ratings.export import RATING_COLUMNS, TELEMETRY_COLUMNS, ratings_frame
from tests.webtest.conftest import ADMIN, Rater, make_config


def _login(client) -> None:
    page = client.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = client.post("/admin/login", data={"csrf": csrf, "token": ADMIN})
    assert r.status_code == 302


def test_admin_disabled_without_token(study_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("MUSHRA_ADMIN_TOKEN", raising=False)
    from harness.webtest.config import AppConfig

    cfg = AppConfig.from_env(study_dir, db_url=f"sqlite:///{tmp_path / 'a.sqlite'}")
    assert cfg.admin_token is None
    app = create_app(cfg)
    r = app.test_client().get("/admin/login")
    assert r.status_code == 503 and "MUSHRA_ADMIN_TOKEN" in r.get_data(as_text=True)
    assert app.test_client().get("/admin/export/ratings.csv").status_code == 503
    app.extensions["mushra"]["db"].dispose()


def test_login_requires_csrf_and_right_token(client):
    assert client.get("/admin/").status_code == 302  # to the login form
    assert client.get("/admin/export/ratings.csv").status_code == 401
    assert client.post("/admin/login", data={"token": ADMIN}).status_code == 400  # no CSRF token
    page = client.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert client.post("/admin/login", data={"csrf": csrf, "token": "wrong"}).status_code == 401
    assert client.post("/admin/login", data={"csrf": "forged", "token": ADMIN}).status_code == 400
    assert client.get("/admin/").status_code == 302
    _login(client)
    assert client.get("/admin/").status_code == 200


def test_dashboard_exports_and_exclusion(app, client):
    for k in range(3):
        Rater(client, f"rater{k}").finish()
    _login(client)
    page = client.get("/admin/").get_data(as_text=True)
    assert "Live mean per condition" in page and "rater2" in page and "3 done" in page
    csv = client.get("/admin/export/ratings.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    df = pd.read_csv(io.StringIO(csv.get_data(as_text=True)))
    assert list(df.columns) == RATING_COLUMNS + TELEMETRY_COLUMNS
    assert len(df) == 3 * 2 * 5 and set(df["rater"]) == {"direct:rater0", "direct:rater1", "direct:rater2"}
    assert set(df["participant_id"]) == {"rater0", "rater1", "rater2"} and not df["excluded"].any()
    assert set(df["kind"]) == {"reference", "anchor", "codec"}
    codec_rows = df[df["kind"] == "codec"]
    assert set(codec_rows["codec"]) == {"fakecodec"} and set(codec_rows["kbps"]) == {6.0, 12.0}
    assert df[df["kind"] == "reference"]["kbps"].isna().all()
    assert df["score"].between(0, 100).all() and (df.groupby(["session", "item"]).size() == 5).all()
    sessions = pd.read_csv(io.StringIO(client.get("/admin/export/sessions.csv").get_data(as_text=True)))
    assert len(sessions) == 3 and set(sessions["state"]) == {"done"}
    assert "closed headphones" in sessions["questionnaire"].iloc[0]
    # exclude one rater through the CSRF-protected form
    sid = sessions["session"].iloc[0]
    assert client.post(f"/admin/sessions/{sid}/exclude", data={"excluded": "1"}).status_code == 400
    page = client.get("/admin/").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert client.post(f"/admin/sessions/{sid}/exclude", data={"excluded": "1", "csrf": csrf}).status_code == 302
    df2 = pd.read_csv(io.StringIO(client.get("/admin/export/ratings.csv").get_data(as_text=True)))
    assert len(df2) == 30 and set(df2.loc[df2["excluded"], "session"]) == {sid}  # kept, and marked
    kept = ratings_frame(app.extensions["mushra"]["config"].db_url, study_dir=app.extensions["mushra"]["study"].folder)
    assert len(kept) == 2 * 2 * 5 and sid not in set(kept["session"])  # the library default leaves them out
    from harness.analysis.load import validate_ratings

    with __import__("pytest").warns(UserWarning, match="excluded"):
        assert len(validate_ratings(df2)) == 20  # analysing the CSV leaves the excluded rater out


def test_bearer_token_for_scripts(client):
    Rater(client, "x").finish()
    assert client.get("/admin/export/ratings.csv", headers={"Authorization": "Bearer nope"}).status_code == 401
    r = client.get("/admin/export/ratings.csv", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200 and len(r.get_data(as_text=True).splitlines()) == 1 + 10


def test_ratings_frame_finds_manifest_next_to_sqlite(study_dir):
    app = create_app(make_config(study_dir, f"sqlite:///{study_dir / 'ratings.sqlite'}"))
    Rater(app.test_client(), "y").finish()
    df = ratings_frame(f"sqlite:///{study_dir / 'ratings.sqlite'}")
    assert len(df) == 10 and set(df["category"]) <= {"speech", "music"} and df["category"].ne("").all()
    assert df["measured_kbps"].dropna().gt(0).all() and df["trial"].dtype.kind == "i"
    app.extensions["mushra"]["db"].dispose()
