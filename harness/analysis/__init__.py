"""Listening-test analysis (loading, post-screening, statistics), objective evaluation (metrics, codec ladders),
reports (curves, tables, HTML) and regression checks. See docs/analysis.md.

Modules: :mod:`load`, :mod:`screening`, :mod:`stats`, :mod:`metrics`, :mod:`evaluate`, :mod:`results`,
:mod:`plots`, :mod:`tables`, :mod:`html`, :mod:`report`, :mod:`regress`, :mod:`synthetic`, :mod:`cli`.
"""
