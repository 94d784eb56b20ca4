#!/usr/bin/env python3
"""Reproduce the SoundStream training/held-out data set (written OUTSIDE the repository).

    .venv/bin/python scripts/make_soundstream_data.py --out /tmp/ss-data [--shared ../shared]

Writes OUT/train/** and OUT/heldout/** as WAV files, plus OUT/MANIFEST.json listing every file and its origin:
  * the openly licensed clips in ../shared/audio (speech, music, tts, mixed; see its LICENSES.md). Four whole files
    are held out for evaluation (never trained on): HELDOUT_SHARED below;
  * speech synthesised with espeak-ng (many voices/variants, speaking rates and pitches; IEEE "Harvard" sentences),
    some voices/sentences held out;
  * music rendered with fluidsynth + FluidR3_GM (MIT) from MIDI files generated here with a seeded random
    composer (melody, chords, bass, drums on several General MIDI programs), some pieces held out;
  * speech synthesised with festival (two diphone voices, random mean F0 and speaking rate; --festival N).
Deterministic for a given --seed (festival draws from its own seeded stream, so --festival does not change the
other files). Needs Debian espeak-ng and, optionally, fluidsynth + fluid-soundfont-gm and festival +
festvox-kallpc16k + festvox-kdlpc16k.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

HELDOUT_SHARED = (
    "speech/cmu-arctic-slt_a0009_female_16k.wav",
    "speech/vctk-ami_lyra-sample1_male_16k.wav",
    "music/sorohanro_solo-trumpet-06_cc-by_48k_stereo.wav",
    "tts/festival_us-slt-hts_female_32k.wav",
)

# IEEE 1969 "Harvard" phonetically balanced sentences (public domain recommended practice).
SENTENCES = [
    "The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.", "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.", "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.", "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.", "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.", "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.", "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.", "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.", "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.", "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.", "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.", "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.", "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.", "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.", "Read verse out loud for pleasure.",
    "Hoist the load to your left shoulder.", "Take the winding path to reach the lake.",
    "Note closely the size of the gas tank.", "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.", "The wrist was badly strained and hung limp.",
    "The stray cat gave birth to kittens.", "The young girl gave no clear response.",
    "The meal was cooked before the bell rang.", "What joy there is in living.",
    "A king ruled the state in the early days.", "The ship was torn apart on the sharp reef.",
    "Sickness kept him home the third week.", "The wide road shimmered in the hot sun.",
    "The lazy cow lay in the cool grass.", "Lift the square stone over the fence.",
    "The rope will bind the seven books at once.", "Hop over the fence and plunge in.",
]
HELDOUT_SENTENCES = SENTENCES[-6:]
TRAIN_VOICES = ["en", "en-us", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-us-nyc", "en-gb-x-gbcwmd"]
VARIANTS = ["", "+f1", "+f2", "+f4", "+f5", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7", "+klatt",
            "+klatt2", "+croak", "+whisper"]
HELDOUT_VOICES = ["en-gb-x-gbclan+f3", "en-us+m3"]


def espeak(text: str, voice: str, speed: int, pitch: int, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(out), text],
                   check=True, capture_output=True)


# --- a tiny seeded MIDI composer ----------------------------------------------------------------------------
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone")  # Debian festvox-kallpc16k, festvox-kdlpc16k (US English male)


def festival(text: str, voice: str, f0_mean: int, stretch: float, out: Path) -> None:
    """One utterance with festival's text2wave: ``voice``, target mean F0 (Hz) and duration stretch."""
    out.parent.mkdir(parents=True, exist_ok=True)
    txt = out.with_suffix(".txt")
    txt.write_text(text + "\n")
    subprocess.run(["text2wave", "-eval", f"(voice_{voice})",
                    "-eval", f"(set! int_lr_params '((target_f0_mean {f0_mean}) (target_f0_std {f0_mean // 6}) "
                             "(model_f0_mean 170) (model_f0_std 34)))",
                    "-eval", f"(Parameter.set 'Duration_Stretch {stretch:.2f})", str(txt), "-o", str(out)],
                   check=True, capture_output=True)
    txt.unlink()


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def _track(events: list[tuple[int, bytes]]) -> bytes:
    events.sort(key=lambda e: e[0])
    data, t = b"", 0
    for when, msg in events:
        data += _vlq(when - t) + msg
        t = when
    data += b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(data)) + data


def compose_midi(rng: random.Random, seconds: float, out: Path) -> None:
    """Melody + chords + bass (random GM programs) + drums, in a random key, tempo and scale."""
    tpq, bpm = 480, rng.choice([80, 96, 110, 120, 132, 150])
    tick = lambda beats: int(beats * tpq)  # noqa: E731
    root = rng.randint(48, 59)
    scale = rng.choice([[0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10], [0, 2, 4, 7, 9], [0, 3, 5, 7, 10]])
    beats = int(seconds * bpm / 60)
    tempo = _vlq(0) + b"\xff\x51\x03" + (60_000_000 // bpm).to_bytes(3, "big")
    tracks = [b"MTrk" + struct.pack(">I", len(tempo) + 4) + tempo + b"\x00\xff\x2f\x00"]
    lead, pad, bass = (rng.choice(p) for p in ([0, 11, 24, 40, 56, 65, 71, 73, 80], [0, 4, 19, 48, 49, 89],
                                              [32, 33, 35, 38, 42]))
    for ch, prog in ((0, lead), (1, pad), (2, bass)):
        ev: list[tuple[int, bytes]] = [(0, bytes([0xC0 | ch, prog]))]
        b = 0.0
        while b < beats:
            deg = rng.randrange(len(scale))
            if ch == 0:
                dur = rng.choice([0.25, 0.5, 0.5, 1.0, 1.5])
                notes = [root + 12 + scale[deg] + 12 * rng.choice([0, 0, 1])]
            elif ch == 1:
                dur = rng.choice([2.0, 4.0])
                notes = [root + scale[(deg + k) % len(scale)] + (12 if deg + k >= len(scale) else 0)
                         for k in (0, 2, 4)]
            else:
                dur = rng.choice([0.5, 1.0, 2.0])
                notes = [root - 12 + scale[deg]]
            vel = rng.randint(50, 110)
            for n in notes:
                ev.append((tick(b), bytes([0x90 | ch, n, vel])))
                ev.append((tick(b + dur * 0.95), bytes([0x80 | ch, n, 0])))
            b += dur
        tracks.append(_track(ev))
    if rng.random() < 0.7:  # drums on channel 10
        ev = []
        for i in range(beats * 2):
            hits = [42] + ([36] if i % 4 == 0 else []) + ([38] if i % 4 == 2 else [])
            for n in hits:
                ev.append((tick(i / 2), bytes([0x99, n, rng.randint(60, 100)])))
                ev.append((tick(i / 2 + 0.25), bytes([0x89, n, 0])))
        tracks.append(_track(ev))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), tpq) + b"".join(tracks))


def render_midi(mid: Path, wav: Path, soundfont: Path) -> None:
    subprocess.run(["fluidsynth", "-ni", "-g", "0.6", "-r", "24000", "-F", str(wav), str(soundfont), str(mid)],
                   check=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/ss-data", help="output folder (outside the repo)")
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[1].parent / "shared"))
    ap.add_argument("--speech", type=int, default=240, help="espeak-ng training utterances (default 240)")
    ap.add_argument("--music", type=int, default=30, help="fluidsynth training pieces (default 30)")
    ap.add_argument("--festival", type=int, default=60,
                    help="festival training utterances (default 60; 0 = none, as for the shipped checkpoint)")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    out = Path(args.out)
    manifest = []
    audio = Path(args.shared) / "audio"
    for src in sorted(audio.rglob("*.wav")):
        rel = src.relative_to(audio).as_posix()
        split = "heldout" if rel in HELDOUT_SHARED else "train"
        dst = out / split / "shared" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        manifest.append({"file": str(dst.relative_to(out)), "origin": f"shared/audio/{rel} (see LICENSES.md)"})
    train_sent = [s for s in SENTENCES if s not in HELDOUT_SENTENCES]
    jobs = []
    for i in range(args.speech):
        text = " ".join(rng.sample(train_sent, rng.choice([1, 2])))
        voice = rng.choice(TRAIN_VOICES) + rng.choice(VARIANTS)
        jobs.append(("train", f"espeak/s{i:04d}.wav", text, voice, rng.randint(110, 230), rng.randint(15, 85)))
    for i, voice in enumerate(HELDOUT_VOICES * 2):
        text = " ".join(HELDOUT_SENTENCES[2 * i % 6: 2 * i % 6 + 2])
        jobs.append(("heldout", f"espeak/h{i:02d}.wav", text, voice, 160, 50))
    for split, name, text, voice, speed, pitch in jobs:
        dst = out / split / name
        espeak(text, voice, speed, pitch, dst)
        manifest.append({"file": str(dst.relative_to(out)), "origin": f"espeak-ng -v {voice} -s {speed} -p {pitch}",
                         "text": text})
    sf2 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
    if shutil.which("fluidsynth") and sf2.exists():
        for split, count, tag in (("train", args.music, "m"), ("heldout", 3, "h")):
            for i in range(count):
                mid = out / "midi" / f"{tag}{i:03d}.mid"
                compose_midi(rng, rng.uniform(12, 20), mid)
                dst = out / split / "fluidsynth" / f"{tag}{i:03d}.wav"
                dst.parent.mkdir(parents=True, exist_ok=True)
                render_midi(mid, dst, sf2)
                manifest.append({"file": str(dst.relative_to(out)),
                                 "origin": f"fluidsynth + FluidR3_GM (MIT) from {mid.relative_to(out)}"})
    else:
        print("fluidsynth or FluidR3_GM.sf2 missing: no generated music (apt-get install fluidsynth "
              "fluid-soundfont-gm)", file=sys.stderr)
    if args.festival and shutil.which("text2wave"):
        frng = random.Random(args.seed + 1)  # own stream: the files above do not change with --festival
        fjobs = [("train", f"festival/f{i:03d}.wav", " ".join(frng.sample(train_sent, frng.choice([1, 2]))),
                  frng.choice(FESTIVAL_VOICES), frng.randint(80, 180), frng.uniform(0.8, 1.3))
                 for i in range(args.festival)]
        fjobs += [("heldout", f"festival/h{i:02d}.wav", " ".join(HELDOUT_SENTENCES[2 * i: 2 * i + 2]), voice, 110,
                   1.0) for i, voice in enumerate(FESTIVAL_VOICES)]
        for split, name, text, voice, f0, stretch in fjobs:
            dst = out / split / name
            festival(text, voice, f0, stretch, dst)
            manifest.append({"file": str(dst.relative_to(out)),
                             "origin": f"festival {voice} f0 {f0} Hz stretch {stretch:.2f}", "text": text})
    elif args.festival:
        print("festival (text2wave) missing: no festival speech (apt-get install festival festvox-kallpc16k "
              "festvox-kdlpc16k)", file=sys.stderr)
    (out / "MANIFEST.json").write_text(json.dumps({"seed": args.seed, "files": manifest}, indent=1))
    n_train = sum(1 for m in manifest if m["file"].startswith("train/"))
    print(f"wrote {len(manifest)} files ({n_train} train, {len(manifest) - n_train} held out) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
