"""Where model files live, how they are checked, and how users online download them.

Nothing here touches the network unless a ``fetch_*`` function is called (``mushra models fetch NAME``).

Search order for each model (first hit wins):

* EnCodec (``encodec_24khz``, ``encodec_48khz``): the adapter option ``weights=PATH`` (a
  ``save_pretrained`` folder), ``$MUSHRA_ENCODEC_DIR/<name>``, ``<cache>/encodec/<name>`` (where
  ``mushra models fetch`` puts it), then the Hugging Face hub cache for ``facebook/<name>`` (offline lookup only).
* Lyra v2: the option ``model_dir=PATH``, ``$MUSHRA_LYRA_DIR``, ``<cache>/lyra``.

``<cache>`` is ``$MUSHRA_CACHE_DIR``, else ``$XDG_CACHE_HOME/mushra-harness``, else ``~/.cache/mushra-harness``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from harness.codecs.base import CodecUnavailable
from harness.errors import HarnessError
from harness.files import file_sha256

# --- Lyra v2 (google/lyra 1.3.2, Apache-2.0) -------------------------------------------------------------------
LYRA_REPO = "google/lyra"
LYRA_COMMIT = "47698dadf0010abff6a848e02642f55f806d4842"  # tag 1.3.2; model files from 1.3.1
LYRA_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


@dataclasses.dataclass(frozen=True)
class ModelFile:
    name: str  # file name on disk
    repo_path: str  # path inside the upstream repository
    size: int  # bytes
    sha256: str


LYRA_FILES: tuple[ModelFile, ...] = (
    ModelFile("soundstream_encoder.tflite", "lyra/model_coeffs/soundstream_encoder.tflite", 1779200,
              "237da0b16226fb0a68d49551c81bebf614e42142af72764448359f68581e88f1"),
    ModelFile("quantizer.tflite", "lyra/model_coeffs/quantizer.tflite", 329012,
              "841ee05989687d32d1f616a8ad1419fc7eda37599d3c05c7cf5a0d60ccf8ac5c"),
    ModelFile("lyragan.tflite", "lyra/model_coeffs/lyragan.tflite", 1475160,
              "50e7839cda4f30599a3a34cfaddcd9c98449b049eee884e1a74295780448ad06"),
    ModelFile("lyra_config.binarypb", "lyra/model_coeffs/lyra_config.binarypb", 2,
              "2d88972e9536ba54deed37db380728b3c58eab9bca1d173ae523098b0774cdf5"),
)

# --- EnCodec (facebook, weights CC-BY-NC 4.0) ------------------------------------------------------------------
ENCODEC_HUB_IDS = {"encodec_24khz": "facebook/encodec_24khz", "encodec_48khz": "facebook/encodec_48khz"}

MODEL_NAMES = ("encodec_24khz", "encodec_48khz", "lyra", "dac_16khz", "dac_24khz", "dac_44khz", "mimi")


def cache_root() -> Path:
    """The harness's own model cache folder (not created here)."""
    if os.environ.get("MUSHRA_CACHE_DIR"):
        return Path(os.environ["MUSHRA_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "mushra-harness"


def default_dest(name: str) -> Path:
    """Where ``mushra models fetch NAME`` saves a model by default."""
    if name == "lyra":
        return cache_root() / "lyra"
    return cache_root() / "encodec" / name


# --- hashing ----------------------------------------------------------------------------------------------------
sha256_file = file_sha256  # memoised per (path, size, mtime): repeated loads cost nothing


# --- Lyra -------------------------------------------------------------------------------------------------------
def lyra_candidates(model_dir: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """``(how it was chosen, folder)`` in search order."""
    out: list[tuple[str, Path]] = []
    if model_dir:
        out.append(("option model_dir", Path(model_dir).expanduser()))
    if os.environ.get("MUSHRA_LYRA_DIR"):
        out.append(("$MUSHRA_LYRA_DIR", Path(os.environ["MUSHRA_LYRA_DIR"]).expanduser()))
    out.append(("cache", default_dest("lyra")))
    return out


def lyra_problems(folder: Path, *, check_hash: bool = True) -> list[str]:
    """What is wrong with a Lyra model folder (missing files, wrong size, wrong sha256); empty if it is good."""
    problems = []
    for f in LYRA_FILES:
        p = folder / f.name
        if not p.is_file():
            problems.append(f"{p} is missing")
        elif p.stat().st_size != f.size:
            problems.append(f"{p} has {p.stat().st_size} bytes, expected {f.size} (corrupt or wrong version)")
        elif check_hash and sha256_file(p) != f.sha256:
            problems.append(f"{p} has sha256 {sha256_file(p)[:16]}..., expected {f.sha256[:16]}... (corrupt)")
    return problems


def find_lyra_dir(model_dir: str | os.PathLike | None = None) -> Path:
    """The first candidate folder holding all Lyra files with the pinned sha256 values.

    An explicitly given folder (option or environment) that exists but holds bad files is an error rather
    than silently skipped, so a corrupt download is reported, not hidden.
    """
    tried = []
    for how, folder in lyra_candidates(model_dir):
        if not folder.is_dir() and how != "cache":  # a folder the user named: never fall back to another one
            raise CodecUnavailable(f"Lyra model folder {folder} ({how}) does not exist. Fix the path, or fetch the "
                                   f"models there with `mushra models fetch lyra --dest {folder}` (needs network).")
        if not folder.is_dir():
            tried.append(f"{folder} ({how}: no such folder)")
            continue
        problems = lyra_problems(folder)
        if not problems:
            return folder
        if how != "cache" or any("missing" not in p for p in problems):
            raise CodecUnavailable(
                f"Lyra model files in {folder} ({how}) are not usable: {'; '.join(problems)}. "
                "Re-download them with `mushra models fetch lyra --dest DIR` (needs network)."
            )
        tried.append(f"{folder} ({how}: {problems[0]})")
    raise CodecUnavailable(
        "Lyra model files not found at " + ", ".join(tried)
        + ". Run `mushra models fetch lyra` online, or set MUSHRA_LYRA_DIR / pass model_dir=PATH "
        "to a folder holding soundstream_encoder.tflite, quantizer.tflite, lyragan.tflite, lyra_config.binarypb."
    )


def _download(url: str, dest: Path, *, sha256: str | None = None, timeout: float = 60.0) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310
            for block in iter(lambda: resp.read(1 << 16), b""):
                h.update(block)
                out.write(block)
        if sha256 is not None and h.hexdigest() != sha256:
            raise HarnessError(f"download of {url} has sha256 {h.hexdigest()}, expected {sha256}; not saved")
        tmp.replace(dest)
    except OSError as exc:
        raise HarnessError(f"could not download {url}: {str(exc).rstrip('. ')}. Check the network connection and "
                          "retry.") from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def fetch_lyra(dest: Path | None = None, *, progress=None) -> Path:
    """Download the four Lyra v2 files from google/lyra at the pinned commit into ``dest``; verify sha256."""
    dest = Path(dest) if dest else default_dest("lyra")
    for f in LYRA_FILES:
        target = dest / f.name
        if target.is_file() and target.stat().st_size == f.size and sha256_file(target) == f.sha256:
            continue
        url = LYRA_URL.format(repo=LYRA_REPO, commit=LYRA_COMMIT, path=f.repo_path)
        if progress:
            progress(f"downloading {url}")
        _download(url, target, sha256=f.sha256)
    problems = lyra_problems(dest)
    if problems:
        raise HarnessError("; ".join(problems))
    return dest


# --- EnCodec ----------------------------------------------------------------------------------------------------
def _hub_cache_dir(hub_id: str) -> Path | None:
    """The snapshot folder of ``hub_id`` in the Hugging Face cache, if both its config and weights are there."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        return None
    cache_dir = os.environ.get("HF_HUB_CACHE") or (
        str(Path(os.environ["HF_HOME"]) / "hub") if os.environ.get("HF_HOME") else None)  # read now, not at import
    cfg = try_to_load_from_cache(hub_id, "config.json", cache_dir=cache_dir)
    if not isinstance(cfg, str):
        return None
    folder = Path(cfg).parent
    return folder if _has_weights(folder) else None


def _has_weights(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (
        (folder / "model.safetensors").is_file() or (folder / "pytorch_model.bin").is_file()
    )


def encodec_candidates(name: str, weights: str | os.PathLike | None = None) -> list[tuple[str, Path | str]]:
    """``(how it was chosen, folder or hub id)`` in search order for EnCodec model ``name``."""
    out: list[tuple[str, Path | str]] = []
    if weights:
        out.append(("option weights", Path(weights).expanduser()))
    if os.environ.get("MUSHRA_ENCODEC_DIR"):
        out.append(("$MUSHRA_ENCODEC_DIR", Path(os.environ["MUSHRA_ENCODEC_DIR"]).expanduser() / name))
    out.append(("cache", default_dest(name)))
    out.append(("Hugging Face cache", ENCODEC_HUB_IDS[name]))
    return out


def find_pretrained(name: str, candidates, *, label: str, env: str, dest_hint: str = "DIR",
                    missing_label: str | None = None) -> tuple[str, Path]:
    """``(source description, folder)`` of the first loadable ``from_pretrained`` folder among ``candidates``
    (``(how, folder or hub id)``, as :func:`encodec_candidates` gives them), or :class:`CodecUnavailable`. A folder
    given as the ``weights`` option that does not hold weights is an error, never skipped for another one."""
    tried = []
    for how, where in candidates:
        if isinstance(where, str):
            folder = _hub_cache_dir(where)
            if folder is not None:
                return f"{where} (Hugging Face cache)", folder
            tried.append(f"{where} in the Hugging Face cache")
            continue
        if _has_weights(where):
            return str(where), where
        if how == "option weights":
            raise CodecUnavailable(
                f"{label} weights not found at {where} (option weights): expected a `save_pretrained` folder with "
                f"config.json and model.safetensors. Fix the path, or run `mushra models fetch {name} --dest DIR` "
                f"online and pass weights={dest_hint}.")
        tried.append(str(where))
    who = label if missing_label is None else missing_label
    raise CodecUnavailable(
        f"{who + ' ' if who else ''}weights not found at {', '.join(tried)}; run `mushra models fetch {name}` "
        f"online or set {env} / pass weights=PATH (or random_weights=true for a same-compute untrained model)")


def find_encodec_weights(name: str, weights: str | os.PathLike | None = None) -> tuple[str, Path]:
    """``(source description, folder)`` of a loadable EnCodec ``from_pretrained`` folder, or CodecUnavailable."""
    return find_pretrained(name, encodec_candidates(name, weights), label="EnCodec", env="MUSHRA_ENCODEC_DIR",
                           dest_hint=f"DIR/{name}", missing_label="")


def weights_id(folder: Path) -> str:
    """A short identity for a weights folder: sha256 (first 16 hex digits) of its weight file."""
    for fname in ("model.safetensors", "pytorch_model.bin"):
        p = folder / fname
        if p.is_file():
            return f"{fname} sha256:{sha256_file(p)[:16]}"
    return "unknown"


def fetch_encodec(name: str, dest: Path | None = None, *, progress=None) -> Path:
    """Download ``facebook/<name>`` from the Hugging Face hub and ``save_pretrained`` it into ``dest``."""
    if name not in ENCODEC_HUB_IDS:
        raise HarnessError(f"unknown EnCodec model '{name}'; choose one of {', '.join(ENCODEC_HUB_IDS)}")
    return fetch_pretrained("EncodecModel", ENCODEC_HUB_IDS[name], Path(dest) if dest else default_dest(name),
                            progress=progress)


def fetch_pretrained(model_class: str, hub_id: str, dest: Path, *, progress=None) -> Path:
    """Download ``hub_id`` with transformers' ``model_class`` and ``save_pretrained`` it into ``dest``
    (written beside it and renamed, so an interrupted download never leaves a half folder)."""
    import transformers

    if progress:
        progress(f"downloading {hub_id} from the Hugging Face hub")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            model = getattr(transformers, model_class).from_pretrained(hub_id, cache_dir=tmp)
        except OSError as exc:
            raise HarnessError(f"could not download {hub_id}: {str(exc).rstrip('. ')}. Check the network "
                               "connection, or copy a save_pretrained folder here and use weights=PATH.") from exc
        staging = dest.with_name(dest.name + ".part")
        shutil.rmtree(staging, ignore_errors=True)
        model.save_pretrained(staging)
        shutil.rmtree(dest, ignore_errors=True)
        staging.replace(dest)
    return dest


def truthy(value) -> bool:
    """An option's boolean value; strings ``1``/``true``/``yes``/``on`` (any case) are true."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def weights_availability(find, name: str, options) -> tuple[bool, str]:
    """``Codec.availability`` of a codec with trained or random weights (``random_weights=``, ``weights=``):
    ``find(name, weights)`` locates trained weights."""
    if truthy(options.get("random_weights", False)):
        return True, f"random weights (seed {int(options.get('seed', 0))}): same compute, untrained"
    try:
        source, _ = find(name, options.get("weights"))
    except CodecUnavailable as exc:
        return False, str(exc)
    return True, f"weights: {source}"


def fetch(name: str, dest: Path | None = None, *, progress=None) -> Path:
    """Download model ``name`` (one of :data:`MODEL_NAMES`) into ``dest`` (default: the harness cache)."""
    if name == "lyra":
        return fetch_lyra(dest, progress=progress)
    if name in ENCODEC_HUB_IDS:
        return fetch_encodec(name, dest, progress=progress)
    from harness.codecs import hub_models  # DAC, Mimi

    if name in hub_models.HUB_MODELS:
        return hub_models.fetch(name, dest, progress=progress)
    raise HarnessError(f"unknown model '{name}'; choose one of {', '.join(MODEL_NAMES)}")
