import re
import warnings

import pytest

from harness.errors import StudyError
from harness.study import load_study
from harness.study.example import write_example
from tests.study_helpers import ITEMS, OPUS, two_items, write_study


def test_example_validates_and_hash_is_stable(tmp_path):
    write_example(tmp_path / "s.toml")
    s1, s2 = load_study(tmp_path / "s.toml"), load_study(tmp_path / "s.toml")
    assert [c.id for c in s1.conditions] == ["opus_12kbps", "opus_6kbps"]
    assert {i.category for i in s1.items} == {"speech", "music"}
    assert s1.hash() == s2.hash() and re.fullmatch(r"[0-9a-f]{64}", s1.hash())
    text = (tmp_path / "s.toml").read_text().replace("kbps = 6\n", "kbps = 7\n")
    (tmp_path / "t.toml").write_text(text)
    assert load_study(tmp_path / "t.toml").hash() != s1.hash()
    r = s1.rater_dict()
    assert r["trials_per_rater"] == 2 and r["ratings_per_item"] == 10 and r["completion_code"].startswith("C")
    assert r["max_signals_per_trial"] == 12 and r["screening"] == "bs1534"


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("body, needle, message", [
    (ITEMS + OPUS.replace("kbps = 6", "kbps = 3"), "kbps = 3", r"cannot run at 3 kbps.*Nearest supported: 6"),
    (ITEMS.replace('category = "music"', 'category = "musik"') + OPUS, "musik", "category 'musik'"),
    (ITEMS + OPUS.replace("kbps = 6", "kbps = 6\nbitrate = 5"), "bitrate = 5", "unknown key 'bitrate'"),
    (ITEMS + OPUS.replace('codec = "opus"\nkbps = 6', 'codec = "opsu"\nkbps = 6'), '"opsu"', "unknown codec 'opsu'"),
    (ITEMS.replace('"a/music.wav"', '"a/nope.wav"') + OPUS, "nope.wav", "not found"),
    (ITEMS + OPUS + "\n[rater]\ntrials_per_rater = 5\n", "trials_per_rater", "exceeds the 2 items"),
    (ITEMS + OPUS + "\n[rater]\nscreening = 'strict'\n", "screening", "screening must be one of"),
    (ITEMS + OPUS + "\n[rater]\nmax_signals_per_trial = 13\n", "max_signals", "at most 12"),
    (ITEMS + OPUS.replace("kbps = 6", "kbps = 6\nid = \"opus_12kbps\""), 'id = "opus_12kbps"', "appears twice"),
    ("fade_ms = 'x'\n" + ITEMS + OPUS, "fade_ms", "must be a number"),
    (ITEMS + OPUS + "\nfade_ms = 5\n", "fade_ms", "unknown key 'fade_ms' in \\[\\[conditions\\]\\]"),
    (ITEMS + OPUS.replace("kbps = 12", "kbps = = 12"), "kbps = = 12", "TOML syntax error"),
    (ITEMS + '[[conditions]]\ncodec = "command"\nkbps = 8\n', "[[conditions]]", "needs options.encode"),
])
def test_errors_name_the_line(tmp_path, body, needle, message):
    path = write_study(tmp_path, body, items=two_items())
    with pytest.raises(StudyError) as exc:
        load_study(path)
    text = path.read_text()
    assert str(exc.value).startswith(f"study.toml:{_line_of(text, needle)}:"), str(exc.value)
    assert re.search(message, str(exc.value)), str(exc.value)


def test_too_many_signals_says_how_many_and_what_to_do(tmp_path):
    ladder = '\n[ladder]\ncodecs = ["opus"]\nkbps = [6, 8, 10, 12, 14, 16, 18, 20, 24, 32]\n'
    path = write_study(tmp_path, ITEMS + ladder, items=two_items())
    with pytest.raises(StudyError, match=r"13 signals per trial .* Split the conditions into several studies"):
        load_study(path)


def test_ladder_expands_and_records_skipped_cells(tmp_path):
    ladder = '\n[ladder]\ncodecs = ["opus"]\nkbps = [1.5, 3, 6, 12]\noptions = { opus = { vbr = false } }\n'
    s = load_study(write_study(tmp_path, ITEMS + ladder, items=two_items()))
    assert [c.id for c in s.conditions] == ["opus_6kbps", "opus_12kbps"]
    assert s.conditions[0].options == {"vbr": False}
    assert [(x["kbps"], x["nearest"][0]) for x in s.skipped] == [(1.5, 6.0), (3.0, 6.0)]
    strict = ladder.replace("kbps = [", "skip_unsupported = false\nkbps = [")
    path = write_study(tmp_path / "b", ITEMS + strict, items=two_items())
    with pytest.raises(StudyError, match=r"cannot run at 1.5 kbps.*Nearest supported: 6"):
        load_study(path)


def test_items_dir_takes_ids_and_categories_from_the_folder(tmp_path):
    items = {"audio/speech/x1.wav": two_items()["a/speech.wav"], "audio/music/y1.wav": two_items()["a/music.wav"],
             "audio/z1.wav": two_items()["a/music.wav"]}
    s = load_study(write_study(tmp_path, 'items_dir = "audio"\n' + OPUS, items=items))
    assert {(i.id, i.category) for i in s.items} == {("x1", "speech"), ("y1", "music"), ("z1", "other")}


def test_long_excerpt_warns(tmp_path):
    head = 'schema_version = 1\nexcerpt_seconds = 15\n'
    path = write_study(tmp_path, ITEMS + OPUS, items=two_items(), header=head)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        load_study(path)
    assert any("BS.1534-3" in str(x.message) for x in w)


def test_wrong_schema_version(tmp_path):
    path = write_study(tmp_path, ITEMS + OPUS, items=two_items(), header="schema_version = 2\n")
    with pytest.raises(StudyError, match="study.toml:1: schema_version 2 is not supported"):
        load_study(path)


def test_items_dir_ignores_prepared_output_inside_it(tmp_path):
    from harness.prepare import prepare

    items = {"audio/speech/x1.wav": two_items()["a/speech.wav"]}
    path = write_study(tmp_path, 'items_dir = "audio"\n' + OPUS, items=items)
    prepare(path, tmp_path / "audio" / "prepared", jobs=1, progress=False)
    assert [i.id for i in load_study(path).items] == ["x1"]
