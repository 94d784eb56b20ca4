"""The one ``--option`` parser (``encode --option KEY=VALUE``, ``evaluate --option CODEC:KEY=VALUE``).

Values are TOML literals, as in the study file's ``options = { ... }``: ``true``, ``10``, ``2.5``, ``"voip"``,
``[1, 2]``; anything that is not a TOML literal is taken as bare text (``application=voip``).
"""

from __future__ import annotations

import tomllib
from typing import Any

from harness.errors import HarnessError


def option_value(text: str) -> Any:
    """A TOML literal's value, or the stripped text itself when it is not one."""
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_options(pairs: list[str] | None, *, example: str = "vbr=false") -> dict[str, Any]:
    """``["vbr=false", "application=voip"]`` -> ``{"vbr": False, "application": "voip"}``."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, val = pair.partition("=")
        if not sep or not key.strip():
            raise HarnessError(f"--option {pair!r}: write it as KEY=VALUE, e.g. --option {example}")
        out[key.strip()] = option_value(val)
    return out


def parse_codec_options(specs: list[str] | None) -> dict[str, dict[str, Any]]:
    """``["encodec_24khz:random_weights=true"]`` -> ``{"encodec_24khz": {"random_weights": True}}``."""
    out: dict[str, dict[str, Any]] = {}
    for spec in specs or []:
        codec, sep, kv = spec.partition(":")
        if not sep or not codec.strip():
            raise HarnessError(f"--option {spec!r}: write it as CODEC:KEY=VALUE, e.g. "
                               "--option encodec_24khz:random_weights=true")
        out.setdefault(codec.strip(), {}).update(
            parse_options([kv], example=f"{codec.strip()}:random_weights=true"))
    return out
