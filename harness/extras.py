"""Optional parts of the installation (``pip install 'mushra-harness[EXTRA]'``) and the error that names the
extra when a part is used without it. The base install reads ratings, analyses them and prepares Opus studies.

- ``web``: the listening-test server (Flask, gunicorn, PostgreSQL driver, Flask-Limiter)
- ``neural``: neural codecs (PyTorch pinned to 2.13.0, transformers for EnCodec/DAC/Mimi, LiteRT for Lyra,
  constriction for entropy coding)
- ``metrics``: objective metrics beyond SI-SNR/mel (ViSQOL with numba, PESQ, STOI, DNSMOS) and Parquet output
- ``dist``: running ``evaluate`` on a Dask cluster
- ``all``: everything
"""

from __future__ import annotations

import importlib.util

from harness.errors import HarnessError

EXTRA_OF = {  # top-level import name -> extra that installs it
    "flask": "web", "gunicorn": "web", "psycopg": "web", "flask_limiter": "web",
    "torch": "neural", "transformers": "neural", "ai_edge_litert": "neural", "constriction": "neural",
    "visqol": "metrics", "numba": "metrics", "pesq": "metrics", "pystoi": "metrics", "speechmos": "metrics",
    "onnxruntime": "metrics", "librosa": "metrics", "pyarrow": "metrics",
    "dask": "dist", "distributed": "dist",
}


class MissingExtra(HarnessError):
    """A part of the harness was used whose optional dependencies are not installed."""


def missing_extra_message(module: str, *, purpose: str = "this") -> str | None:
    """The message for a missing ``module`` (``None`` if it belongs to no extra)."""
    top = (module or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return None
    return f"{purpose} needs the Python package '{top}', which is not installed: pip install 'mushra-harness[{extra}]'"


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (found without importing it)."""
    return importlib.util.find_spec(module) is not None


def require(*modules: str, purpose: str) -> None:
    """Raise :class:`MissingExtra` naming the extra if any of ``modules`` is not installed."""
    for m in modules:
        if not installed(m):
            raise MissingExtra(missing_extra_message(m, purpose=purpose) or f"{purpose} needs '{m}'")
