"""Any codec with a command-line encoder and decoder, configured in the study file (codec type ``command``).

Each call writes the input to a WAV file in a fresh temporary folder, runs the ``encode`` template, takes the
encoded file's bytes as the payload (so the measured bitrate is the size of what a user would store, container
overhead included), then runs the ``decode`` template and reads the decoded audio back.

Template placeholders (Python ``str.format`` fields; paths are shell-quoted where ``shell = true``):

* ``{input}`` / ``{output}`` (or ``{in}`` / ``{out}``): input and output file of that step (encode: WAV ->
  payload file; decode: payload file -> WAV),
* ``{kbps}`` (e.g. ``12`` or ``1.5``), ``{bps}`` (integer bits/s), ``{sample_rate}`` (Hz), ``{channels}``.

Options: ``encode``, ``decode`` (templates, required), ``sample_rate`` (48000), ``channels`` (1), ``bitrates``
(list of kbps points, ``[low, high]`` table ``{range = [low, high]}``, or ``"low-high"``; default: any),
``delay_samples`` (0: samples the decoded output lags the input, at ``sample_rate``), ``timeout_s`` (120 per step),
``suffix`` (payload file extension, ".bin"), ``wav_subtype`` ("PCM_16"), ``shell`` (false), ``label``/``name``,
``version`` (a command whose first output line is recorded as the tool's version, e.g. "opusenc --version").
Commands run without a shell (``shlex.split``) unless ``shell = true``.
"""

from __future__ import annotations

import math
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from harness.codecs import register
from harness.codecs.base import BitrateSpec, Codec, CodecError, CodecUnavailable

ANY_BITRATE = BitrateSpec(range=(0.0, math.inf))
PLACEHOLDERS = ("input", "output", "kbps", "bps", "sample_rate", "channels")


def parse_bitrates(value: Any) -> BitrateSpec:
    """A :class:`BitrateSpec` from the study file's ``bitrates`` value (see the module docstring)."""
    if value is None:
        return ANY_BITRATE
    try:
        if isinstance(value, BitrateSpec):
            return value
        if isinstance(value, str):
            lo, hi = (float(v) for v in value.replace(" ", "").split("-", 1))
            return BitrateSpec(range=(lo, hi))
        if isinstance(value, dict):
            rng = value.get("range")
            return BitrateSpec(points=tuple(float(p) for p in value.get("points", ())),
                               range=(float(rng[0]), float(rng[1])) if rng else None)
        if isinstance(value, (int, float)):
            return BitrateSpec(points=(float(value),))
        return BitrateSpec(points=tuple(sorted(float(v) for v in value)))
    except (TypeError, ValueError, IndexError) as exc:
        raise CodecError(
            f"command codec: cannot read bitrates={value!r} ({exc}); use a list of kbps like [6, 12], "
            'a range like "6-64" or {range = [6, 64]}'
        ) from None


def _fmt_kbps(kbps: float) -> str:
    return f"{kbps:g}"


_VERSIONS: dict[str, str] = {}


def _tool_version(command: str) -> str:
    """First non-empty line a version command prints (stdout, else stderr); cached per process."""
    if command not in _VERSIONS:
        try:
            proc = subprocess.run(shlex.split(command), capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CodecError(f"command codec: version command {command!r} failed: {exc}") from None
        text = (proc.stdout or proc.stderr).decode("utf-8", "replace").strip().splitlines()
        _VERSIONS[command] = text[0].strip() if text else "unknown"
    return _VERSIONS[command]


@register
class CommandCodec(Codec):
    """A user codec run through its own command-line tools (see the module docstring for the options)."""

    name = "command"
    description = "external encoder/decoder commands (e.g. opusenc/opusdec, ffmpeg)"
    sample_rates = (48000,)
    channel_options = (1,)
    bitrates = ANY_BITRATE
    bitrate_convention = "the encoded file as the tool writes it: container and headers counted"

    def __init__(self, *, kbps: float, encode: str | None = None, decode: str | None = None,
                 sample_rate: int = 48000, channels: int = 1, bitrates: Any = None, delay_samples: int = 0,
                 timeout_s: float = 120.0, suffix: str = ".bin", wav_subtype: str = "PCM_16", shell: Any = False,
                 label: str | None = None, name: str | None = None, version: str | None = None,
                 **options: Any) -> None:
        self.bitrates = parse_bitrates(bitrates)
        self.label = str(label or name or "command")
        if options:
            raise CodecError(f"command codec '{self.label}': unknown option(s) {', '.join(sorted(options))}")
        super().__init__(kbps=kbps)
        if not encode or not decode:
            raise CodecError(f"command codec '{self.label}' needs both `encode` and `decode` command templates, "
                             'e.g. encode = "opusenc --bitrate {kbps} {input} {output}"')
        self.templates = {"encode": str(encode), "decode": str(decode)}
        self.sample_rates = (int(sample_rate),)
        self.channel_options = (int(channels),)
        self._delay = int(delay_samples)
        if self._delay < 0:
            raise CodecError(f"command codec '{self.label}': delay_samples must be >= 0, got {self._delay}")
        self.timeout_s = float(timeout_s)
        self.suffix = suffix if suffix.startswith(".") else "." + suffix
        self.wav_subtype = str(wav_subtype)
        self.shell = shell if isinstance(shell, bool) else str(shell).lower() in ("1", "true", "yes")
        for step, template in self.templates.items():
            self._check_template(step, template)
        self.version_command = version
        self._version = _tool_version(str(version)) if version else None

    # --- configuration checks --------------------------------------------------------------------------------
    def _check_template(self, step: str, template: str) -> None:
        try:
            probe = self._render(template, "IN", "OUT")
        except (KeyError, IndexError, ValueError) as exc:
            raise CodecError(f"command codec '{self.label}': {step} template {template!r} is invalid ({exc}); "
                             f"placeholders are {', '.join('{' + p + '}' for p in PLACEHOLDERS)}") from None
        if self.shell:
            return
        exe = probe[0] if probe else ""
        if not exe or shutil.which(exe) is None:
            raise CodecUnavailable(
                f"command codec '{self.label}': {step} program '{exe}' not found on PATH. Install it "
                f"(e.g. `apt-get install opus-tools` for opusenc/opusdec) or give its full path in the template."
            )

    def _render(self, template: str, inp: str, out: str) -> list[str] | str:
        q = shlex.quote if self.shell else (lambda s: s)
        fields = {"input": q(inp), "output": q(out), "in": q(inp), "out": q(out), "kbps": _fmt_kbps(self.kbps), "bps": str(round(self.kbps * 1000)),
                  "sample_rate": str(self.sample_rate), "channels": str(self.channels)}
        if self.shell:
            return template.format(**fields)
        # split first, then fill each word: paths with spaces stay one argument
        return [word.format(**fields) for word in shlex.split(template)]

    # --- what the harness sees -------------------------------------------------------------------------------
    @property
    def delay_samples(self) -> int:
        return self._delay

    def settings(self) -> dict[str, Any]:
        return {"label": self.label, "encode": self.templates["encode"], "decode": self.templates["decode"],
                "sample_rate": self.sample_rate, "channels": self.channels, "delay_samples": self._delay,
                "wav_subtype": self.wav_subtype, "shell": self.shell, "bitrates": self.bitrates.describe()}

    def versions(self) -> dict[str, str]:
        out = {"tool": self._version} if self._version else {}
        if not self.shell:
            for step, template in self.templates.items():
                exe = shlex.split(template)[0]
                out[f"{step}_program"] = shutil.which(exe) or exe
        return out

    # --- the work --------------------------------------------------------------------------------------------
    def _run(self, step: str, inp: Path, out: Path) -> None:
        cmd = self._render(self.templates[step], str(inp), str(out))
        shown = cmd if isinstance(cmd, str) else shlex.join(cmd)
        try:
            proc = subprocess.run(cmd, shell=self.shell, capture_output=True, timeout=self.timeout_s,
                                  cwd=inp.parent, check=False)
        except subprocess.TimeoutExpired:
            raise CodecError(f"command codec '{self.label}': {step} step timed out after {self.timeout_s:g} s: "
                             f"{shown}. Raise the condition's timeout_s if the tool is just slow.") from None
        except FileNotFoundError as exc:
            raise CodecUnavailable(f"command codec '{self.label}': cannot run {shown}: {exc}") from None
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.decode("utf-8", "replace").strip().splitlines()[-5:])
            raise CodecError(f"command codec '{self.label}': {step} step failed with exit code {proc.returncode}: "
                             f"{shown}\n{tail}")
        if not out.is_file() or out.stat().st_size == 0:
            raise CodecError(f"command codec '{self.label}': {step} step wrote no output file {out.name}: {shown}")

    def encode(self, audio: np.ndarray) -> bytes:
        import soundfile as sf

        with tempfile.TemporaryDirectory(prefix="mushra-cmd-") as tmp:
            wav, coded = Path(tmp) / "input.wav", Path(tmp) / ("encoded" + self.suffix)
            sf.write(str(wav), np.clip(audio, -1.0, 1.0), self.sample_rate, subtype=self.wav_subtype)
            self._run("encode", wav, coded)
            return coded.read_bytes()

    def decode(self, payload: bytes) -> np.ndarray:
        import soundfile as sf

        from harness.audio import match_channels

        with tempfile.TemporaryDirectory(prefix="mushra-cmd-") as tmp:
            coded, wav = Path(tmp) / ("encoded" + self.suffix), Path(tmp) / "decoded.wav"
            coded.write_bytes(payload)
            self._run("decode", coded, wav)
            try:
                y, sr = sf.read(str(wav), dtype="float32", always_2d=True)
            except Exception as exc:  # libsndfile errors
                raise CodecError(f"command codec '{self.label}': cannot read the decoder's output: {exc}") from None
        if sr != self.sample_rate:
            raise CodecError(f"command codec '{self.label}': the decoder wrote {sr} Hz audio but sample_rate is "
                             f"{self.sample_rate}; make the decode command write {self.sample_rate} Hz "
                             "(e.g. opusdec --rate {sample_rate}) or set sample_rate")
        return match_channels(y, self.channels)
