"""Rated audio is never lost: ``prepare`` into a folder whose ratings database holds ratings refuses a run that
would delete or rewrite a rated stimulus."""

from __future__ import annotations

from pathlib import Path

from harness.errors import StudyError
from harness.prepare.jobs import Signal

ITEM_KEYS_SETTING = "item_keys"  # manifest settings: item -> cache key of its finished stimuli


def guard_rated_stimuli(out: Path, *, study, signals: list[Signal], finals: dict[str, str]) -> None:
    """Refuse (:class:`StudyError`) when ``out``'s ratings database holds ratings of a stimulus this run would
    delete (its item or condition left the study) or rewrite (its item's content key changed)."""
    from harness.ratings import default_db_url

    db_file = Path(default_db_url(out)[len("sqlite:///"):])
    if not db_file.is_file() or not (out / "manifest.json").is_file():
        return
    from harness.manifest import load_manifest
    from harness.ratings.export import rated_stimuli

    rated = rated_stimuli(default_db_url(out))
    if not rated:
        return
    old, _ = load_manifest(out)
    old_keys = old.settings.get(ITEM_KEYS_SETTING, {})
    new_pairs = {(i.id, s.id) for i in study.items for s in signals}
    lost = sorted((item, cond, n) for (item, cond), n in rated.items()
                  if (item, cond) not in new_pairs or old_keys.get(item, finals.get(item)) != finals.get(item))
    if not lost:
        return
    shown = ", ".join(f"{item}/{cond} ({n})" for item, cond, n in lost[:8]) + (" ..." if len(lost) > 8 else "")
    raise StudyError(
        f"{out} holds {sum(n for *_, n in lost)} ratings ({db_file.name}) of {len(lost)} stimuli this run would "
        f"delete or change: {shown}. Rated audio is never removed. Prepare the changed study into a new folder "
        f"(`mushra prepare {Path(study.path).name} NEW_FOLDER`), or, to retire those ratings, analyse or export "
        f"them first and move {db_file} away, then re-run.")
