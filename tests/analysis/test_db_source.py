"""The database loader goes through the web app's exporter (``harness.ratings.export.ratings_frame``)."""

import pytest

from harness.analysis.load import RatingsError, load_ratings
from harness.cli import main

webtest = pytest.importorskip("harness.ratings.db")
models = pytest.importorskip("harness.ratings.models")


def _fill(url: str) -> None:
    db = webtest.open_database(url)
    webtest.create_schema(db, study_hash="h")
    with db.Write.begin() as s:
        for r in range(4):
            sess = models.Session(token=f"tok{r}", public_id=f"p{r}", participant_id=None, state="done")
            s.add(sess)
            s.flush()
            for i in range(3):
                t = models.Trial(session_id=sess.id, kind="mushra", item=f"i{i}", order_index=i)
                s.add(t)
                s.flush()
                bad_ref = r == 0  # rater p0 rates the hidden reference 50 on every item
                for cond, score in (("reference", 50 if bad_ref else 100), ("lp3.5", 20), ("lp7", 45),
                                    ("opus_12kbps", 70 + r)):
                    s.add(models.Rating(trial_id=t.id, condition=cond, score=score, plays=2, listen_ms=8000.0))
    db.dispose()


def test_analyze_from_sqlite_database(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'ratings.db'}"
    _fill(url)
    df = load_ratings(url)
    assert len(df) == 4 * 3 * 4 and set(df["kind"]) == {"reference", "anchor", "codec"}
    assert main(["analyze", "--db", url, "--out", str(tmp_path / "rep"), "--resamples", "200"]) == 0
    assert "4 raters, 1 excluded" in capsys.readouterr().out
    with pytest.raises(RatingsError, match="no such SQLite database"):
        load_ratings(f"sqlite:///{tmp_path / 'missing.db'}")
