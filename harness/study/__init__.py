"""The study file (``study.toml``): parsing and checking it (:mod:`.study`), its conditions and ladder
(:mod:`.conditions`), its ``[rater]`` table (:mod:`.rules`), the example study (:mod:`.example`) and TOML line
positions for error messages (:mod:`.tomlpos`).

May import: :mod:`harness.vocabulary`, :mod:`harness.errors`, :mod:`harness.files`, the codec registry."""

from harness.study.study import ItemSpec, Study, file_sha256, load_study

__all__ = ["ItemSpec", "Study", "file_sha256", "load_study"]
