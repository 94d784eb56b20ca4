"""Publication outputs on 1,000,000 ratings: BD-rates (rater bootstrap), agreement, figures and tables must not
scale with the number of ratings. Prints the time of the report's publication part (summary, BD-rate, figures,
tables, agreement) for a small and a 1,000,000-rating study, their ratio, the whole `analyze` time on 1,000,000
ratings, and the machine's load (`uptime`): compare ratios taken in one run, not absolute figures.

    PYTHONPATH=. python benchmarks/bench_paper.py [--full]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.analysis import report, stats  # noqa: E402
from tests.analysis.paper_fixtures import study_and_evaluation  # noqa: E402


def publication_part(n_raters: int, tmp: Path) -> tuple[float, int]:
    from harness.analysis.results import read_results

    ratings, ev = study_and_evaluation(tmp, n_raters=n_raters)
    panel = report._with_all_panel(ratings)
    by_cond = stats.summarize(panel, ("category", "condition"), bootstrap=False)
    by_codec = stats.by_codec_bitrate(panel, per_category=True, bootstrap=False)
    per_item = stats.per_item(ratings)
    rows, _ = read_results(ev)
    (tmp / "out").mkdir(parents=True)
    t0 = time.perf_counter()
    report._paper_sections(ratings, by_cond, by_codec, per_item, rows, out=tmp / "out", files=[], ci_name="x",
                           baseline=None, seed=0, overview="")
    return time.perf_counter() - t0, len(ratings)


def main() -> None:
    print("load:", os.popen("uptime").read().strip())
    with tempfile.TemporaryDirectory() as d:
        small, n_small = publication_part(12, Path(d) / "s")
        big, n_big = publication_part(12_000, Path(d) / "b")
        print(f"publication part: {small:.1f} s on {n_small} ratings, {big:.1f} s on {n_big} ratings "
              f"(ratio {big / small:.2f} for {n_big / n_small:.0f}x the ratings)")
        if "--full" in sys.argv:
            ratings, ev = study_and_evaluation(Path(d) / "f", n_raters=12_000)
            t0 = time.perf_counter()
            report.analyze(ratings, out_dir=Path(d) / "full", evaluation=ev)
            print(f"whole analyze on {len(ratings)} ratings: {time.perf_counter() - t0:.1f} s")
    print("load:", os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
