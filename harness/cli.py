"""The ``mushra`` command line. Each part of the harness contributes its sub-commands through a
``register(subparsers)`` function in its own ``cli`` module, listed in :data:`COMMAND_MODULES`."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from harness import __version__
from harness.errors import HarnessError

COMMAND_MODULES = (
    "harness.core_cli",  # init, prepare, codecs, encode, demo
    "harness.codecs.cli",  # models fetch
    "harness.codecs.soundstream.cli",  # soundstream train / export
    "harness.webtest.cli",  # serve
    "harness.analysis.cli",  # analyze, evaluate, metric, regress, report
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mushra",
        description="Run MUSHRA (ITU-R BS.1534-3) listening tests and objective evaluations of audio codecs.",
        epilog="Start with `mushra demo`, or `mushra init study.toml` then `mushra prepare study.toml --out DIR`.",
    )
    parser.add_argument("--version", action="version", version=f"mushra-harness {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # part not present in this build
                continue
            raise
        module.register(sub)
    for command in sub.choices.values():  # --quiet everywhere: no progress bars (they are never drawn into pipes)
        if "--quiet" not in command._option_string_actions:
            command.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    from harness.progress import install_warning_format

    install_warning_format()  # warnings print as one readable line, without source lines
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc = args.func(args)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; completed work is kept, re-run to continue", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mushra ... | head`
        return 0
    except ModuleNotFoundError as exc:  # an optional part used without its extra: name the extra
        from harness.extras import missing_extra_message

        msg = missing_extra_message(exc.name or "", purpose=f"`mushra {args.command}`")
        if msg is None:
            raise
        print(f"error: {msg}", file=sys.stderr)
        return 2
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
