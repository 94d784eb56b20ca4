from harness.demo import demo_conditions, write_demo_study
from harness.study import load_study


def test_demo_study_is_generated_and_valid(tmp_path):
    conds = demo_conditions()
    assert conds[:2] == [{"codec": "opus", "kbps": 6.0, "options": {}}, {"codec": "opus", "kbps": 12.0, "options": {}}]
    # codecs without trained weights here run with random weights, said so in the study file
    assert all(c["options"] in ({}, {"random_weights": True}) for c in conds)
    assert len(conds) + 3 <= 12  # hidden reference + 2 anchors + conditions fit one BS.1534-3 trial
    study = load_study(write_demo_study(tmp_path))
    assert {i.category for i in study.items} == {"speech", "music"} and len(study.items) == 3
    assert all(tmp_path in __import__("pathlib").Path(i.file).parents for i in study.items)  # generated here
    assert [c.id for c in study.conditions][:2] == ["opus_6kbps", "opus_12kbps"]
    assert study.anchors == ("lp3.5", "lp7")
    for c in study.conditions:
        if c.codec.startswith("encodec"):
            assert c.options.get("random_weights") is True
