"""prepare never deletes or rewrites a rated stimulus; an unchanged re-run with a SoundStream condition builds
no codec and never imports torch; a decoder that loses audio is an error; bitrate drift is a warning."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from harness.errors import StudyError
from harness.prepare import prepare
from harness.ratings.db import create_schema, default_db_url, open_database
from harness.ratings.models import Rating, Session, Trial
from tests.conftest import speechlike
from tests.study_helpers import write_study

ROOT = Path(__file__).resolve().parents[1]
ONE_ITEM = '\n[[items]]\nid = "s1"\nfile = "s1.wav"\ncategory = "speech"\n'
OPUS = '\n[[conditions]]\ncodec = "opus"\nkbps = {kbps}\n'


def _rate(out: Path, item: str, condition: str) -> None:
    """One MUSHRA rating of (item, condition) in the study folder's ratings database, as the web test writes."""
    from harness.manifest import load_manifest

    manifest, _ = load_manifest(out)
    db = open_database(default_db_url(out))
    try:
        create_schema(db, study_hash=manifest.study_hash)
        with db.Write.begin() as s:
            sess = Session(token="t" * 20, public_id="p1")
            trial = Trial(kind="mushra", item=item, order_index=0, stimuli=[])
            sess.trials = [trial]
            s.add(sess)
            s.flush()
            s.add(Rating(trial_id=trial.id, condition=condition, score=55.0))
    finally:
        db.dispose()


def test_prepare_refuses_to_delete_or_change_a_rated_stimulus(tmp_path):
    study = write_study(tmp_path, ONE_ITEM + OPUS.format(kbps=12) + OPUS.format(kbps=24),
                        items={"s1.wav": speechlike(seconds=2.0)})
    out = tmp_path / "out"
    prepare(study, out, jobs=1, progress=False)
    _rate(out, "s1", "opus_12kbps")
    rated = out / "stimuli" / "s1" / "opus_12kbps.wav"
    before = rated.read_bytes()

    write_study(tmp_path, ONE_ITEM + OPUS.format(kbps=24), items={})  # the rated condition removed
    with pytest.raises(StudyError, match=r"ratings.*s1/opus_12kbps \(1\).*new folder"):
        prepare(study, out, jobs=1, progress=False)
    assert rated.read_bytes() == before

    write_study(tmp_path, ONE_ITEM + OPUS.format(kbps=12) + OPUS.format(kbps=24).replace(
        "kbps = 24", "kbps = 24\noptions = { vbr = false }"), items={})  # same ids, item content changes
    with pytest.raises(StudyError, match="delete or change"):
        prepare(study, out, jobs=1, progress=False)
    assert rated.read_bytes() == before

    write_study(tmp_path, ONE_ITEM + OPUS.format(kbps=12) + OPUS.format(kbps=24), items={})
    res = prepare(study, out, jobs=1, progress=False)  # unchanged: fine
    assert res.stats.items_unchanged == 1 and rated.read_bytes() == before
    prepare(study, tmp_path / "new", jobs=1, progress=False)  # a new folder is always fine


@pytest.mark.slow
def test_unchanged_rerun_with_soundstream_imports_no_torch(tmp_path):
    study = write_study(tmp_path, ONE_ITEM + '\n[[conditions]]\ncodec = "soundstream"\nkbps = 6\n',
                        items={"s1.wav": speechlike(seconds=1.5)},
                        header='schema_version = 1\nname = "t"\nsample_rate = 24000\nchannels = 1\n'
                               'excerpt_seconds = 1.0\nanchors = ["lp3.5"]\n')
    out = tmp_path / "out"
    code = ("import json, sys, time, warnings; warnings.simplefilter('ignore'); t = time.perf_counter(); "
            "from harness.prepare import prepare; r = prepare(sys.argv[1], sys.argv[2], jobs=1, progress=False); "
            "print(json.dumps({'torch': 'torch' in sys.modules, 'runs': r.stats.codec_runs, "
            "'s': time.perf_counter() - t}))")
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}

    def run() -> dict:
        p = subprocess.run([sys.executable, "-c", code, str(study), str(out)], capture_output=True, text=True,
                           env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout.strip().splitlines()[-1])

    first = run()
    assert first["torch"] and first["runs"] == 2
    again = run()
    assert again == {**again, "torch": False, "runs": 0}


def test_a_decoder_that_loses_audio_is_an_error_and_bitrate_drift_warns():
    from harness.codecs.base import BitrateSpec, BitrateWarning, Codec, CodecError, transcode

    class Truncating(Codec):
        name = "truncating-test"
        sample_rates = (16000,)
        bitrates = BitrateSpec(points=(8.0,))

        def encode(self, audio):
            self._audio = audio
            return bytes(len(audio) // 16)  # 1 byte per ms: 8 kbps

        def decode(self, payload):
            return self._audio[: len(self._audio) // 8]  # 1 s of 8 s

    x = (0.1 * np.random.default_rng(0).standard_normal((16000 * 8, 1))).astype(np.float32)
    with pytest.raises(CodecError, match="decoded 1.000 s of a 8.000 s input"):
        transcode(Truncating(kbps=8), x, 16000)

    class Chatty(Truncating):
        def encode(self, audio):
            self._audio = audio
            return bytes(len(audio) // 8)  # twice the nominal rate

        def decode(self, payload):
            return self._audio

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = transcode(Chatty(kbps=8), x, 16000)
    assert abs(res.measured_kbps - 16.0) < 0.01
    assert [w.category for w in caught] == [BitrateWarning] and "+100 %" in str(caught[0].message)
