"""Terminal behaviour of every command: one --option parser (TOML values), --quiet everywhere, no progress bar
into pipes, warnings as one readable line, clean Ctrl-C in pool workers."""

from __future__ import annotations

import signal
import warnings

import numpy as np
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


def test_a_missing_extra_is_named(monkeypatch, capsys):
    import builtins

    from harness import extras
    from harness.codecs import codec_availability, get_codec_class

    real_find = extras.importlib.util.find_spec
    monkeypatch.setattr(extras.importlib.util, "find_spec", lambda name, *a: None if name == "torch" else
                        real_find(name, *a))
    ok, reason = codec_availability(get_codec_class("soundstream"))
    assert not ok and "pip install 'mushra-harness[neural]'" in reason
    with pytest.raises(extras.MissingExtra, match=r"mushra-harness\[web\]"):
        monkeypatch.setattr(extras.importlib.util, "find_spec", lambda name, *a: None)
        extras.require("flask", purpose="`mushra serve`")
    real_import = builtins.__import__

    def no_visqol(name, *a, **k):
        if name.startswith("visqol"):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_visqol)
    from harness.analysis.metrics import MetricError, compute

    with pytest.raises(MetricError, match=r"mushra-harness\[metrics\]"):
        x = np.zeros((48000, 1), dtype=np.float32)
        compute("visqol-audio", reference=x, degraded=x, sample_rate=48000)
