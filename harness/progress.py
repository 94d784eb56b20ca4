"""Terminal output shared by every command: progress bars only on a terminal, warnings as one readable line,
and silencing native libraries' chatter (TFLite's INFO lines) while a bar is drawn."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from typing import Any, TextIO


def progress_bar(*, total: int, desc: str, unit: str, enabled: bool = True, stream: TextIO | None = None,
                 **tqdm_options: Any) -> Any:
    """A tqdm bar on ``stream`` (stderr) when ``enabled`` and ``stream`` is a terminal; a silent one otherwise
    (pipes, CI logs and ``--quiet`` get no bar)."""
    from tqdm import tqdm

    stream = stream or sys.stderr
    on = enabled and _isatty(stream)
    return tqdm(total=total, desc=desc, unit=unit, disable=not on, file=stream, **{"leave": False, **tqdm_options})


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def ignore_interrupts() -> None:
    """Worker-process initializer: Ctrl-C goes to the whole process group; only the parent handles it (it stops
    the pool and says what was kept), so workers print no traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def format_warning(message: Any, category: type, filename: str, lineno: int, line: str | None = None) -> str:
    """``warning: MESSAGE`` on one line (no source line, no file path; the category only when it is not a plain
    ``UserWarning``)."""
    text = " ".join(str(message).split())
    name = category.__name__
    prefix = "warning" if name == "UserWarning" else f"warning ({name})"
    return f"{prefix}: {text}\n"


def install_warning_format() -> None:
    warnings.formatwarning = format_warning


@contextlib.contextmanager
def native_stderr_filtered(drop_prefixes: tuple[str, ...] = ("INFO:",)):
    """Run a block with file descriptor 2 captured, then write back every captured line except those starting
    with ``drop_prefixes`` (TFLite prints ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`` from C++,
    straight into a progress bar). Python-level ``sys.stderr`` writes are not affected."""
    import tempfile

    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            kept = [ln for ln in tmp.read().decode(errors="replace").splitlines()
                    if ln.strip() and not ln.startswith(drop_prefixes)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
