"""The shared words: one kind_of, one condition-id convention (old evaluation ids still read), enums whose
values are the strings stored in databases and sent by the JSON API, one RaterSettings."""

import math

import pytest

from harness import vocabulary as V


def test_kind_of_anchors_are_exactly_the_anchor_ids():
    assert V.kind_of("reference") == "reference"
    assert V.kind_of("lp3.5") == "anchor" and V.kind_of("lp7") == "anchor"
    assert V.kind_of("lpcnet_1.6kbps") == "codec"  # not an anchor because it starts with "lp"
    assert V.kind_of("lp7x") == "codec"


def test_condition_id_round_trip_and_old_form():
    assert V.condition_id("opus", 12.0) == "opus_12kbps"
    assert V.condition_id("lyra", 3.2) == "lyra_3.2kbps"
    assert V.parse_condition_id("opus_12kbps") == ("opus", 12.0)
    assert V.parse_condition_id("encodec_24khz_1.5kbps") == ("encodec_24khz", 1.5)
    assert V.parse_condition_id("opus@12") == ("opus", 12.0)
    assert V.normalize_condition_id("opus@12") == "opus_12kbps"
    assert V.normalize_condition_id("my-codec") == "my-codec"
    codec, kbps = V.parse_condition_id("lp7")
    assert codec is None and math.isnan(kbps)
    assert V.parse_condition_id("opus-6", loose=True) == ("opus", 6.0)


def test_enum_values_are_the_stored_strings():
    assert [k.value for k in V.TrialKind] == ["training", "headphone", "mushra", "questionnaire"]
    assert [s.value for s in V.SessionState] == ["active", "done", "screened_out"]
    assert V.TrialKind.MUSHRA == "mushra" and f"{V.SessionState.DONE}" == "done"


def test_rater_settings_one_class_for_study_and_server():
    s = V.RaterSettings(ratings_per_item=5)
    r = s.resolved(n_items=4, study_hash="0123456789abcdef")
    assert r.trials_per_rater == 4 and r.completion_code == "C01234567" and r.screened_out_code == "S89ABCDEF"
    assert V.RaterSettings.from_mapping(V.RaterSettings().filled(n_items=4, study_hash="0" * 16)).trials_per_rater == 4
    with pytest.raises(ValueError, match="unknown"):
        V.RaterSettings.from_mapping({"colour": "red"})
    keys = [k for k, _ in V.RaterSettings(max_signals_per_trial=13).problems(n_items=3)]
    assert keys == ["max_signals_per_trial"]
    assert [k for k, _ in V.RaterSettings(max_signals_per_trial=1).problems(n_items=3)] == ["max_signals_per_trial"]
