"""mushra plan: the answers are confirmed by simulation within Monte-Carlo error."""

import json

import pytest

from harness.analysis import plan as P
from harness.analysis.synthetic import clustered_study
from harness.cli import main
from harness.inference import expected_half_width, power_difference


@pytest.fixture(scope="module")
def answer():
    comps = P.parse_components("rater=8,rater_condition=6,item=6,item_condition=4,residual=15")
    (row,) = P.plan(comps, half_width=6.0, difference=10.0, n_items=[4])
    return comps, row


def test_half_width_answer_holds_in_simulation(answer):
    comps, row = answer
    sim = P.simulate(comps, n_raters=row.raters_for_half_width, n_items=4, difference=10.0, n_studies=600, seed=1)
    assert abs(sim["mean_half_width"] - row.half_width_at_answer) < 3 * sim["half_width_mc_se"] + 0.02
    assert sim["mean_half_width"] <= 6.0 + 3 * sim["half_width_mc_se"]
    # one rater fewer would miss the target
    assert expected_half_width(comps, n_raters=row.raters_for_half_width - 1, n_items=4) > 6.0


def test_power_answer_holds_in_simulation(answer):
    comps, row = answer
    sim = P.simulate(comps, n_raters=row.raters_for_power, n_items=4, difference=10.0, n_studies=600, seed=2)
    assert abs(sim["power"] - row.power_at_answer) < 3 * sim["power_mc_se"]
    assert row.power_at_answer >= 0.8
    assert power_difference(comps, difference=10.0, n_raters=row.raters_for_power - 1, n_items=4) < 0.8


def test_plan_cli_from_pilot_csv_and_from_components(tmp_path, capsys):
    ratings, _ = clustered_study(n_raters=12, n_items=6, seed=3)
    csv = tmp_path / "pilot.csv"
    ratings.drop(columns="category").to_csv(csv, index=False)
    assert main(["plan", "--ratings", str(csv), "--half-width", "5", "--difference", "8", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["components"]["n_raters"] == 12 and doc["components"]["residual"] > 5
    assert [r["n_items"] for r in doc["rows"]] == [4, 6, 8, 12, 16]
    assert all(r["raters_for_half_width"] >= 2 for r in doc["rows"])
    assert main(["plan", "--components", "rater=8,residual=-1"]) == 2
    assert "non-negative" in capsys.readouterr().err
