"""``mushra prepare``: a study file in, a folder of loudness-aligned stimuli and ``manifest.json`` out.

:mod:`.pipeline` runs it (cache, worker pool, stale files), :mod:`.items` finalises one item (loudness
alignment, lag check, files and records), :mod:`.stimuli` holds the signal steps and :mod:`.anchors` the
BS.1534-3 low-pass anchors.

May import: :mod:`harness.study`, :mod:`harness.vocabulary`, :mod:`harness.manifest`, :mod:`harness.cache`,
:mod:`harness.audio`, the codec registry; never the web test or the analysis."""

from harness.prepare.pipeline import PrepareResult, PrepareStats, prepare

__all__ = ["PrepareResult", "PrepareStats", "prepare"]
