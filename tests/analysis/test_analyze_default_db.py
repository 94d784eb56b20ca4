from harness.cli import main


def test_analyze_needs_a_ratings_source(tmp_path, capsys):
    assert main(["analyze", "--out", str(tmp_path / "r")]) == 2
    assert "--db URL, --ratings CSV, or --study DIR" in capsys.readouterr().err


def test_analyze_with_study_reads_the_study_database(tmp_path, capsys):
    """With only --study, analyze reads STUDY/ratings.sqlite (what `mushra serve STUDY` writes)."""
    assert main(["analyze", "--study", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert f"{tmp_path.resolve()}/ratings.sqlite" in capsys.readouterr().err
    assert not (tmp_path / "ratings.sqlite").exists()  # a missing database is not created empty
