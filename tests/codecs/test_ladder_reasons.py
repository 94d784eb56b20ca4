"""`mushra codecs --ladder` gives a reason for every empty cell."""

import json

from harness.cli import main
from harness.codecs import get_codec_class
from harness.codecs.ladder import unsupported_reason


def test_reasons_per_kind_of_bitrate_spec():
    assert unsupported_reason(get_codec_class("opus").bitrates, 3) == "below its lowest rate 6 kbps"
    assert unsupported_reason(get_codec_class("lyra").bitrates, 12) == "above its highest rate 9.2 kbps"
    assert "nearest 6 and 12 kbps" in unsupported_reason(get_codec_class("encodec_24khz").bitrates, 9)
    why = unsupported_reason(get_codec_class("mimi").bitrates, 1.5)
    assert "10.9 codebooks of 0.1375 kbps" in why and "1.5125 (11 codebooks)" in why
    assert unsupported_reason(get_codec_class("codec2").bitrates, 3.2) is None


def test_cli_ladder_names_every_empty_cell(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MUSHRA_CACHE_DIR", str(tmp_path))
    assert main(["codecs", "--json", "--ladder", "1.5,3,6,18"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    for r in rows.values():  # every cell is either runnable here or explained
        for k, ok in r["ladder"].items():
            assert (ok and r["usable"]) or r["ladder_empty_because"].get(k), (r["name"], k)
    assert rows["lc3"]["ladder_empty_because"] == {k: "below its lowest rate 16 kbps" for k in ("1.5", "3", "6")}
    assert rows["codec2"]["ladder_empty_because"]["1.5"].endswith("nearest 1.4 and 1.6 kbps")
    assert main(["codecs", "--ladder", "1.5,3,6,18"]) == 0
    text = capsys.readouterr().out
    assert "opus @ 1.5 kbps: below its lowest rate 6 kbps" in text
    assert "dac_24khz @ 6 kbps: has this operating point but cannot run here" in text
    assert "dac_24khz: not usable here:" in text and "mushra models fetch dac_24khz" in text
