"""The worker side of ``prepare``: what runs in the spawned processes, and the pool."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

from harness.cache import Cache
from harness.prepare.jobs import RenderJob


def render_signal(job: RenderJob) -> dict:
    """Worker: render one (item, signal) into the cache. Module-level so spawn can import it."""
    from harness.prepare.stimuli import render

    cache = Cache(job.cache_root)
    got = cache.get(job.reference_key)
    if got is None:
        raise RuntimeError(f"reference excerpt {job.reference_key} missing from the cache")
    audio, meta = render(got[0], job.sample_rate, **job.signal.render_args())
    cache.put(job.output_key, {**meta, "item": job.item, "condition": job.signal.id}, audio)
    return meta


def start_pool(jobs: int) -> ProcessPoolExecutor:
    """Spawned workers that ignore Ctrl-C (the parent stops them) and start importing at once."""
    from harness.progress import ignore_interrupts

    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=ignore_interrupts)
    for _ in range(jobs):  # workers import numpy/scipy/codecs while this process cuts the excerpts
        pool.submit(_warm_up)
    return pool


def _warm_up() -> None:
    """Worker start-up: import what rendering needs while the parent cuts the excerpts."""
    import harness.prepare.stimuli  # noqa: F401
    from harness.codecs import codec_names

    codec_names()


class Finished:
    """A finished result with the Future interface (the ``jobs=1`` path runs in-process)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value

    def done(self) -> bool:
        return True
