"""``mushra models list`` and ``mushra models fetch NAME [--dest DIR]``: where codec model files are looked for,
whether they are there, and downloading them (needs network; verified by sha256 for Lyra)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.codecs import weights
from harness.codecs.base import CodecUnavailable

LICENCES = {
    "encodec_24khz": "CC-BY-NC 4.0 (weights), facebook/encodec_24khz",
    "encodec_48khz": "CC-BY-NC 4.0 (weights), facebook/encodec_48khz",
    "lyra": "Apache-2.0, google/lyra 1.3.2",
    "dac_16khz": "MIT (code and weights), descript/dac_16khz",
    "dac_24khz": "MIT (code and weights), descript/dac_24khz",
    "dac_44khz": "MIT (code and weights), descript/dac_44khz",
    "mimi": "CC-BY 4.0 (weights), kyutai/mimi",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list or download codec model files (EnCodec weights, Lyra v2 models)",
                       description="Codec model files: where they are looked for and how to get them.")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    lst = msub.add_parser("list", help="show each model, where it is looked for, and whether it is present")
    lst.set_defaults(func=cmd_list)
    fetch = msub.add_parser(
        "fetch", help="download a model (needs network)",
        description="Download a model into the harness cache (or --dest). EnCodec comes from the Hugging Face hub "
                    "and is saved with save_pretrained; Lyra's four files come from github.com/google/lyra at a "
                    "pinned commit and are checked against pinned sha256 values.",
    )
    fetch.add_argument("name", choices=weights.MODEL_NAMES, help="model to download")
    fetch.add_argument("--dest", type=Path, default=None,
                       help="folder to save into (default: %(default)s = the harness cache, see `mushra models list`)")
    fetch.set_defaults(func=cmd_fetch)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _status(name: str) -> tuple[str, list[str]]:
    """``(status line, search locations)`` for one model."""
    if name == "lyra":
        where = [f"{path}  [{how}]" for how, path in weights.lyra_candidates(None)]
        try:
            found = weights.find_lyra_dir(None)
            return f"present: {found} (sha256 verified)", where
        except CodecUnavailable as exc:
            return f"missing: {exc}", where
    from harness.codecs import hub_models

    if name in hub_models.HUB_MODELS:
        where = [f"{path}  [{how}]" for how, path in hub_models.candidates(name, None)]
        find = hub_models.find_weights
    else:
        where = [f"{path}  [{how}]" for how, path in weights.encodec_candidates(name, None)]
        find = weights.find_encodec_weights
    try:
        source, _ = find(name, None)
        return f"present: {source}", where
    except CodecUnavailable:
        return (f"missing (run `mushra models fetch {name}` online; "
                "random_weights=true runs the same architecture untrained)"), where


def cmd_list(args: argparse.Namespace) -> int:
    for name in weights.MODEL_NAMES:
        status, where = _status(name)
        print(f"{name}  ({LICENCES[name]})")
        print(f"  {status}")
        print("  looked for in (first hit wins):")
        for w in where:
            print(f"    {w}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    dest = weights.fetch(args.name, args.dest, progress=lambda msg: print(msg, flush=True))
    print(f"{args.name}: saved to {dest}")
    if args.dest is not None and Path(args.dest) != weights.default_dest(args.name):
        from harness.codecs.hub_models import HUB_MODELS

        env = HUB_MODELS[args.name].env if args.name in HUB_MODELS else "MUSHRA_ENCODEC_DIR"
        hint = "MUSHRA_LYRA_DIR" if args.name == "lyra" else f"weights=PATH (or {env}=its parent)"
        print(f"not the default location: point the codec at it with {hint}")
    return 0
