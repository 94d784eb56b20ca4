"""analyze --study runs the study's [rater] screening unless --screening overrides it, and says why."""

from harness.analysis.report import _choose_screening
from harness.manifest import Manifest


def _manifest(screening=None):
    rater = {"screening": screening} if screening else {}
    return Manifest(study_name="s", study_hash="0" * 64, sample_rate=48000, channels=1, loudness_target_lufs=-23.0,
                    items=(), conditions=(), stimuli=(), rater=rater)


def test_study_preset_is_used_and_cli_overrides_it():
    cfg, why = _choose_screening(None, _manifest("encodec"), {})
    assert cfg.name == "encodec" and "study file" in why
    cfg, why = _choose_screening("bs1534", _manifest("encodec"), {})
    assert cfg.name == "bs1534" and "overrides the study's [rater] screening = encodec" in why
    cfg, why = _choose_screening(None, None, {})
    assert cfg.name == "bs1534" and "default" in why
    cfg, why = _choose_screening(None, _manifest("encodec"), {"reference_max_fraction": 0.3})
    assert cfg.reference_max_fraction == 0.3 and "reference_max_fraction=0.3" in why
