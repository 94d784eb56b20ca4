import json

import pytest

from harness.errors import ManifestError
from harness.manifest import SCHEMA_VERSION, Manifest, load_manifest
from harness.prepare import prepare
from tests.study_helpers import ITEMS, OPUS, two_items, write_study


def test_manifest_round_trip_and_version_check(tmp_path):
    study = write_study(tmp_path / "s", ITEMS + OPUS.split("[[conditions]]\ncodec = \"opus\"\nkbps = 6")[0],
                        items=two_items())
    res = prepare(study, tmp_path / "out", jobs=1, progress=False)
    m, folder = load_manifest(tmp_path / "out")
    assert m == res.manifest and folder == (tmp_path / "out").resolve()
    assert Manifest.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    raw = json.loads((folder / "manifest.json").read_text())
    assert raw["format"] == "mushra-harness/manifest" and raw["schema_version"] == SCHEMA_VERSION
    assert raw["study_hash"] and all(s["sha256"] for s in raw["stimuli"])
    raw["schema_version"] = SCHEMA_VERSION + 1
    (folder / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(ManifestError, match="schema version"):
        load_manifest(folder)
    raw["format"] = "something-else"
    (folder / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(ManifestError, match="not a mushra-harness manifest"):
        load_manifest(folder)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="corrupt"):
        load_manifest(folder)
