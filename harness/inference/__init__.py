"""Rater-aware inference for MUSHRA ratings: pure numpy/scipy/pandas, shared by the analysis and the web test's
adaptive steering (it imports neither ``harness.analysis`` nor ``harness.webtest``).

- :func:`rater_aware_summary`: per (category, condition) mean and interval (raters random; items fixed or random);
- :func:`paired_contrasts`: differences between conditions from the same estimator, effect size, Holm p-values;
- :func:`variance_components`, :func:`raters_needed`, :func:`power_difference`, :func:`raters_for_power`: planning.
"""

from harness.inference.contrasts import format_p, holm, paired_contrasts
from harness.inference.plan import (VarianceComponents, expected_half_width, power_difference, raters_for_power,
                                    raters_needed, variance_components)
from harness.inference.summary import (ESTIMAND, METHODS, SUMMARY_COLUMNS, InferenceError, rater_aware_summary,
                                       rater_contributions)

__all__ = ["ESTIMAND", "METHODS", "SUMMARY_COLUMNS", "InferenceError", "VarianceComponents", "expected_half_width",
           "format_p", "holm", "paired_contrasts", "power_difference", "rater_aware_summary", "rater_contributions",
           "raters_for_power", "raters_needed", "variance_components"]
