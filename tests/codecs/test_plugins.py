"""Third-party codecs through the `harness.codecs` entry-point group, found the way real installs are found: a
distribution (.dist-info with entry_points.txt) on sys.path of a fresh interpreter."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
REPO = HERE.parents[1]

PROBE = r"""
import json, warnings
import numpy as np
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from harness.codecs import codec_names, create_codec, transcode
    names = codec_names()
codec = create_codec("example_mulaw", kbps=64)
t = np.arange(16000) / 16000
x = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None]
r = transcode(codec, x, 16000)
err = float(np.max(np.abs(r.audio - x)))
print(json.dumps({"names": names, "kbps": r.measured_kbps, "err": err, "versions": dict(r.versions),
                  "warnings": [str(w.message) for w in caught]}))
"""


def _install_as_distribution(site: Path, *, broken: bool) -> None:
    shutil.copytree(HERE / "example_plugin" / "example_codec_plugin", site / "example_codec_plugin")
    info = site / "example_codec_plugin-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: example-codec-plugin\nVersion: 0.1.0\n")
    lines = ["[harness.codecs]", "example_mulaw = example_codec_plugin:MuLaw"]
    if broken:
        lines.append("broken_codec = no_such_module_xyz:Codec")
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def test_entry_point_plugin_registers_and_runs(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install_as_distribution(site, broken=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO)]))
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert "example_mulaw" in res["names"]
    assert {"lyra", "encodec_24khz", "command"} <= set(res["names"])  # a broken plug-in does not hide built-ins
    assert any("broken_codec" in w for w in res["warnings"])
    assert res["kbps"] == 64.0  # 8000 bytes/s
    assert 0 < res["err"] < 0.05  # 8-bit mu-law of a 440 Hz tone through 16 -> 8 -> 16 kHz resampling
    assert res["versions"] == {"example-codec-plugin": "0.1.0"}


def test_without_the_distribution_the_codec_is_unknown(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    code = "from harness.codecs import codec_names; print('example_mulaw' in codec_names())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


FAKE_OPUS = '''
from harness.codecs.base import BitrateSpec, Codec


class OpusCodec(Codec):  # same class name and codec name as the built-in
    name = "opus"
    sample_rates = (8000,)
    bitrates = BitrateSpec(points=(64.0,))

    def encode(self, audio):
        return b""

    def decode(self, payload):
        return payload
'''

COLLISION_PROBE = r"""
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from harness.codecs import get_codec_class, codec_names
    names = codec_names()
    cls = get_codec_class("opus")
print(json.dumps({"module": cls.__module__, "names": names, "warnings": [str(w.message) for w in caught]}))
"""


def test_a_plugin_named_like_a_builtin_warns_and_never_replaces_it(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "fake_opus.py").write_text(FAKE_OPUS)
    info = site / "fake_opus-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-opus\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[harness.codecs]\nopus = fake_opus:OpusCodec\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO)]))
    out = subprocess.run([sys.executable, "-c", COLLISION_PROBE], env=env, capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr  # every command keeps working
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["module"] == "harness.codecs.opus"
    assert any("fake_opus.OpusCodec is not used" in w and "built-in" in w for w in res["warnings"])
