"""Terminal behaviour of every command: one --option parser (TOML values), --quiet everywhere, no progress bar
into pipes, warnings as one readable line, clean Ctrl-C in pool workers."""

from __future__ import annotations

import signal
import warnings

import pytest

from harness.cli import build_parser
from harness.errors import HarnessError
from harness.options import parse_codec_options, parse_options
from harness.progress import format_warning, ignore_interrupts, progress_bar


def test_encode_and_evaluate_options_parse_values_alike():
    enc = parse_options(["vbr=false", "complexity=10", "application=voip", 'mode="x"', "gain=2.5"])
    ev = parse_codec_options(["opus:vbr=false", "opus:complexity=10", "opus:application=voip", 'opus:mode="x"',
                              "opus:gain=2.5"])
    assert ev == {"opus": enc} == {"opus": {"vbr": False, "complexity": 10, "application": "voip", "mode": "x",
                                            "gain": 2.5}}
    with pytest.raises(HarnessError, match="CODEC:KEY=VALUE"):
        parse_codec_options(["vbr=false"])
    with pytest.raises(HarnessError, match="KEY=VALUE"):
        parse_options(["vbr"])


def test_every_command_takes_quiet():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    missing = [name for name, p in sub.choices.items() if "--quiet" not in p._option_string_actions]
    assert missing == []


def test_progress_bar_only_on_a_terminal(tmp_path):
    with open(tmp_path / "log", "w") as pipe_like:
        bar = progress_bar(total=3, desc="x", unit="cell", stream=pipe_like)
        bar.update(3)
        bar.close()
    assert (tmp_path / "log").read_text() == ""


def test_warnings_print_as_one_line():
    text = format_warning(UserWarning("codec 'x' measured\n  2.69 kbps"), UserWarning, "/a/b.py", 12, "src line")
    assert text == "warning: codec 'x' measured 2.69 kbps\n"
    assert format_warning("m", RuntimeWarning, "f", 1).startswith("warning (RuntimeWarning): m")


def test_workers_ignore_ctrl_c():
    old = signal.getsignal(signal.SIGINT)
    try:
        ignore_interrupts()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, old)


def test_cli_installs_the_warning_format():
    import harness.cli as cli

    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert warnings.formatwarning is format_warning
