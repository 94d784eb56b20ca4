"""Reports: the full listening-test analysis (:func:`analyze`), objective-only reports from evaluation results
(:func:`objective_report`) and the demo's report on a prepared study (:func:`demo_report`).

Every report folder holds the curves (PNG/SVG/PDF), the tables (Markdown/LaTeX/CSV), the raw summaries (CSV), a
versioned ``analysis.json`` and one self-contained ``report.html``.
"""

from __future__ import annotations

import dataclasses
import html as _html
import json
from html import escape as _esc
from pathlib import Path
from typing import Any

import pandas as pd

from harness.analysis import html as H
from harness.analysis import labels as L
from harness.analysis import plots, stats
from harness.inference import screening
from harness.analysis.load import attach_manifest, load_ratings
from harness.errors import HarnessError
from harness.inference import format_p

FORMAT = "mushra-harness/analysis"
SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class AnalysisResult:
    html: Path
    out_dir: Path
    n_raters: int
    n_excluded: int
    files: tuple[Path, ...]
    screening: str = "bs1534"


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for pkg in ("mushra-harness", "numpy", "scipy", "pandas", "matplotlib", "visqol-python", "soxr"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _with_all_panel(frame: pd.DataFrame) -> pd.DataFrame:
    """Add an 'all' category (every rating) when there are several categories."""
    if frame["category"].nunique() <= 1:
        return frame
    return pd.concat([frame, frame.assign(category="all")], ignore_index=True)


def analyze(ratings: Any, *, out_dir: str | Path, study: str | Path | None = None,
            screening_preset: str | screening.ScreeningConfig | None = None, n_resamples: int = stats.N_RESAMPLES,
            seed: int = 0, method: str = "none", evaluation: str | Path | None = None, items: str = "fixed",
            baseline: str | None = None, screening_overrides: dict[str, Any] | None = None,
            rater_column: str | None = None, bd_baseline: str | None = None) -> AnalysisResult:
    """Load ratings, post-screen, compute statistics, write curves/tables/HTML to ``out_dir``.

    BD-rates are measured against the codec ``bd_baseline`` (default: ``opus`` if present, else the first codec
    by name); with ``evaluation`` (a ``mushra evaluate`` results file) also metric curves, tables, BD-rates and
    the metric-listener agreement.

    The plotted and tabled interval (``ci_low``/``ci_high``) is the rater-aware one (:mod:`harness.inference`;
    ``items="random"`` generalises over items too); ``method`` (``bca``/``percentile``) adds the per-rating bootstrap
    for comparison (``none``, the default, skips it: it ignores rater clustering and is the slowest step)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = load_ratings(ratings, study_dir=study, rater_column=rater_column)
    manifest = None
    if study is not None:
        from harness.manifest import load_manifest

        manifest, _ = load_manifest(study)
        frame = attach_manifest(frame, manifest)
    cfg, why = _choose_screening(screening_preset, manifest, screening_overrides or {})
    table = screening.screen(frame, cfg)
    files = [out / "screening.csv"]
    table.to_csv(files[0], index=False)
    data = screening.kept(frame, table)
    if data.empty:
        raise HarnessError(f"all {len(table)} raters were excluded by the '{cfg.name}' screening; see "
                           f"{files[0]}. Check the data or relax the thresholds.")
    boot = method != "none"
    kw = dict(n_resamples=n_resamples, seed=seed, method=method if boot else "bca", items=items, bootstrap=boot)
    ci_name = stats.METHODS[items]
    panel = _with_all_panel(data)
    by_cond = stats.summarize(panel, ("category", "condition"), **kw)
    by_codec = stats.by_codec_bitrate(panel, per_category=True, **kw)
    comparisons = stats.paired_comparisons(data, baseline=baseline)
    per_item = stats.per_item(data)
    for name, df in (("summary_conditions", by_cond), ("summary_codec_bitrate", by_codec),
                     ("paired_comparisons", comparisons), ("per_item", per_item)):
        p = out / f"{name}.csv"
        df.to_csv(p, index=False)
        files.append(p)

    rows = None
    if evaluation is not None:
        from harness.analysis.results import read_results

        rows, _doc = read_results(evaluation)
    sections = _paper_sections(data, by_cond, by_codec, per_item, rows, out=out, files=files, ci_name=ci_name,
                               baseline=bd_baseline, seed=seed, overview=_overview(frame, data, table, cfg, manifest)
                               + f"<p>Screening preset <b>{cfg.name}</b>: {_esc(why)}.</p>"
                               + f"<p>Estimand: {_esc(stats.ESTIMAND[items])}; 95 % intervals: {_esc(ci_name)}.</p>")
    sections.append(("Paired comparisons (Holm-adjusted)", _PAIRED_NOTE
                     + H.table_html(_printable_p(comparisons), float_digits=2,
                                    collapsed=f"{len(comparisons)} pairs")))
    sections.append(("Post-screening", f"<p>{cfg.describe()}</p>" + _screening_html(table)))
    items_sorted = L.sort_conditions(per_item.assign(category=per_item["item"]))
    sections.append(("Per item", H.table_html(
        items_sorted[[c for c in ("item", "condition", "n_raters", "mean", "ci_low", "ci_high", "median")
                      if c in per_item]], float_digits=1, collapsed=f"{len(per_item)} item x condition rows")))
    settings = {"screening": dataclasses.asdict(cfg), "screening_chosen_by": why,
                "exempt_items": table.attrs.get("exempt_items", []),
                "statistics": {"ci": "95 %", "estimand": stats.ESTIMAND[items], "interval": ci_name,
                               "items": items, "interval_columns": "ci_low/ci_high (plotted and tabled)",
                               "per_rating_intervals": "ci_bs1534_* (= ci_t_*): Student-t over individual ratings "
                                                       "(ITU-R BS.1534-3 sec. 9.2); ci_boot_*: bootstrap over "
                                                       "ratings; both ignore rater clustering (too narrow)",
                               "t": "Student-t over ratings", "bootstrap": method if boot else "not computed",
                               "n_resamples": n_resamples, "seed": seed,
                               "paired": comparisons.attrs.get("method", "") + "; check: Wilcoxon signed-rank on "
                                         "per-rater means (zero_method=wilcox); Holm (1979) across all pairs",
                               "baseline": baseline},
                "ratings_source": str(ratings) if not isinstance(ratings, pd.DataFrame) else "DataFrame",
                "study": str(study) if study else None, "versions": _versions()}
    doc = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "settings": settings,
           "summary_codec_bitrate": json.loads(by_codec.to_json(orient="records")),
           "summary_conditions": json.loads(by_cond.to_json(orient="records")),
           "screening": json.loads(table.to_json(orient="records"))}
    (out / "analysis.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    files.append(out / "analysis.json")
    title = f"MUSHRA results: {manifest.study_name}" if manifest else "MUSHRA results"
    page = H.write(out / "report.html", H.render(title, sections, settings=settings))
    return AnalysisResult(page, out, int(len(table)), int(table["excluded"].sum()), tuple(files), cfg.name)


_PAIRED_NOTE = ('<p class="note"><code>mean_diff</code> = a &minus; b in MUSHRA points (item-balanced means), with '
                'the 95 % interval of the same rater-cluster estimator as the per-condition intervals (raters '
                'random, items fixed; with complete data the paired t test on per-rater means), '
                '<code>effect_size_dz</code> = Cohen\'s d<sub>z</sub>, <code>p_holm</code> Holm-adjusted across all '
                'pairs; <code>significant</code>: p_holm &lt; 0.05. Check: Wilcoxon signed-rank on per-rater means '
                '(<code>w_p</code>, <code>w_p_holm</code>); with few raters the exact Wilcoxon test cannot reach small '
                'p-values (6 raters: p &ge; 0.031 before adjustment).</p>')


def _printable_p(table: pd.DataFrame) -> pd.DataFrame:
    """p-value columns as text: ``< 1e-4`` below 1e-4, never ``0.0000``."""
    out = table.drop(columns=["t_p", "t_p_holm"], errors="ignore").copy()
    for col in ("p", "p_holm", "w_p", "w_p_holm"):
        if col in out:
            out[col] = [format_p(v) for v in out[col]]
    return out


def _choose_screening(given, manifest, overrides: dict[str, Any]) -> tuple[screening.ScreeningConfig, str]:
    """The preset that runs and why: ``--screening`` beats the study's ``[rater] screening``, which beats bs1534."""
    study_says = ((manifest.rater or {}) if manifest is not None else {}).get("screening")
    if isinstance(given, screening.ScreeningConfig):
        return given, "given by the caller"
    if given is not None:
        why = f"--screening {given}" + (f" (overrides the study's [rater] screening = {study_says})"
                                         if study_says and study_says != given else "")
        name = given
    elif study_says:
        name, why = study_says, "the study file's [rater] screening"
    else:
        name, why = "bs1534", "default (no --screening, no study [rater] screening)"
    study_rater = (manifest.rater or {}) if manifest is not None else {}
    if "exclude_flagged" not in overrides and study_rater.get("exclude_flagged"):
        overrides = {**overrides, "exclude_flagged": True}
        why += "; flagged raters excluded (the study file's [rater] exclude_flagged = true)"
    if overrides:
        why += "; thresholds overridden: " + ", ".join(f"{k}={v}" for k, v in overrides.items())
    return screening.preset(name, **overrides), why


def _screening_html(table: pd.DataFrame, limit: int = 300) -> str:
    """Raters in natural order; above ``limit`` rows only the excluded and flagged ones (all in screening.csv)."""
    t = table.iloc[sorted(range(len(table)), key=lambda i: L.natural_key(table["rater"].iloc[i]))]
    note = ""
    if len(t) > limit:
        t = t[t["excluded"] | (t["flags"] != "")].head(limit)
        note = f'<p class="note">{len(t)} of {len(table)} raters shown (excluded or flagged); all in screening.csv.</p>'
    return note + H.table_html(t, float_digits=2, collapsed=f"{len(table)} raters, {int(table['excluded'].sum())} "
                               "excluded")


def _overview(frame, data, table, cfg, manifest) -> str:
    n_ex = int(table["excluded"].sum())
    parts = [f"<p>{frame['rater'].nunique()} raters, {len(frame)} ratings, {frame['item'].nunique()} items, "
             f"{frame['condition'].nunique()} conditions. Post-screening <b>{cfg.name}</b> excluded <b>{n_ex}</b> "
             f"rater(s); {data['rater'].nunique()} raters and {len(data)} ratings remain.</p>"]
    flagged = table[table["flags"] != ""]
    if len(flagged):
        parts.append(f"<p>{len(flagged)} rater(s) have telemetry flags (see Post-screening).</p>")
    if manifest is not None:
        parts.append(f"<p>Study <code>{manifest.study_name}</code> (hash {manifest.study_hash[:12]}), "
                     f"{manifest.sample_rate} Hz, loudness target {manifest.loudness_target_lufs:g} LUFS.</p>")
    return "".join(parts)


def _paper_sections(data, by_cond, by_codec, per_item, rows, *, out: Path, files: list, ci_name: str,
                    baseline, seed: int, overview: str) -> list[tuple[str, str]]:
    """Summary (who won, BD-rates, agreement verdict), figures, tables: in that order."""
    from harness.analysis import agreement, paper

    bd = paper.bd_outputs(data, rows, out=out, files=files, baseline=baseline, seed=seed)
    figs = paper.mushra_figures(by_cond, by_codec, per_item, out=out, files=files, ci_name=ci_name)
    tabs = [("MUSHRA", paper.mushra_table(by_cond, out=out, files=files, ci_name=ci_name))]
    verdict, agree_html = "", ""
    if rows is not None and len(rows):
        ofigs, otabs = paper.objective_outputs(rows, out=out, files=files)
        figs += ofigs
        tabs += [("Objective metrics", "".join(otabs))]
        table, points = agreement.agreement_table(data, rows, summary=by_cond, seed=seed)
        table.to_csv(out / "agreement.csv", index=False)
        files.append(out / "agreement.csv")
        verdict = agreement.verdict(table, names=paper.METRIC_LABEL)
        for metric, pts in points.items():
            label = paper.METRIC_LABEL.get(metric, metric)
            fig = plots.scatter_figure(pts, xlabel=label)
            figs.append(paper._figure(fig, out, f"agreement_{metric}", files,
                                      f"Listeners vs {label}: one point per condition, MUSHRA mean with its 95 % "
                                      "interval, metric mean over items with its 95 % t interval."))
        agree_html = (f"<p>{_html.escape(verdict)}</p>" + H.table_html(table, float_digits=2, collapsed=(
            f"{len(table)} rows: Pearson, Spearman, Kendall with 95 % bootstrap intervals")))
    summary = (f'<div class="summary">{paper.winner_html(by_cond, bd)}'
               + (f"<p>{_html.escape(verdict)}</p>" if verdict else "") + f"</div>{overview}")
    sections = [("Summary", summary), ("BD-rate (Bjontegaard delta)", paper.bd_html(bd)),
                ("Figures", "".join(figs))]
    sections += [(f"Table: {name}", t) for name, t in tabs]
    if agree_html:
        sections.append(("Metric-listener agreement", agree_html))
    return sections


def _objective_sections(rows: pd.DataFrame, out: Path, files: list) -> list[tuple[str, str]]:
    from harness.analysis import paper

    figs, tabs = paper.objective_outputs(rows, out=out, files=files)
    return [("Figures", "".join(figs)), ("Tables", "".join(tabs))]


def objective_report(results: str | Path | pd.DataFrame, out_dir: str | Path, *, title: str = "Objective evaluation",
                     settings: dict[str, Any] | None = None) -> Path:
    """HTML report (+ curves and tables) from evaluation rows or a results JSON."""
    from harness.analysis.results import read_results

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(results, pd.DataFrame):
        rows, doc_settings = results, {}
    else:
        rows, doc = read_results(results)
        doc_settings = doc.get("settings", {})
    files: list[Path] = []
    sections = _objective_sections(rows, out, files)
    per = rows.drop(columns=["settings", "codec_settings", "key", "cached"], errors="ignore")
    per = per.assign(codec_versions=per["codec_versions"].map(lambda v: json.dumps(v) if v else ""))
    sections.append(("Every cell", H.table_html(per, float_digits=3)))
    metric_settings = {m: g["settings"].iloc[0] for m, g in rows.groupby("metric")} if len(rows) else {}
    all_settings = {"evaluation": {**doc_settings, **(settings or {})}, "metric_settings": metric_settings,
                    "metric_versions": {m: g["version"].iloc[0] for m, g in rows.groupby("metric")},
                    "versions": _versions()}
    return H.write(out / "report.html", H.render(title, sections, settings=all_settings))


def demo_report(study_dir: str | Path, out_dir: str | Path, *, jobs: int = 1, progress: bool = False) -> Path:
    """Objective-only report on a prepared study: SI-SNR and ViSQOL of every stimulus vs its reference."""
    from harness.analysis.evaluate import evaluate
    from harness.manifest import load_manifest

    manifest, _ = load_manifest(study_dir)
    visqol = "visqol-audio" if manifest.sample_rate >= 32000 else "visqol-speech"
    rows, paths, _ = evaluate(study=study_dir, metrics=("si-snr", visqol), out_dir=out_dir, jobs=jobs,
                              progress=progress)
    return objective_report(paths["json"], out_dir, title=f"Objective evaluation: {manifest.study_name}")
