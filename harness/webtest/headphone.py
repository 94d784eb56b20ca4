"""Woods et al. (2017) antiphase headphone screening test.

K. J. P. Woods, M. H. Siegel, J. Traer, J. H. McDermott, "Headphone screening to facilitate web-based auditory
experiments", Attention, Perception, & Psychophysics 79:2064-2072 (2017): each trial plays three 200 Hz tones
(1000 ms, 100 ms ramps, 500 ms gaps); one is 6 dB quieter, one is in antiphase between the ears; the listener
picks the quietest. Over loudspeakers the antiphase tone cancels acoustically and sounds quietest; over headphones
the -6 dB tone does. Six trials; a rater passes with at least five correct.
"""

from __future__ import annotations

import random

import numpy as np

from harness.webtest.study import wav_bytes

TRIALS = 6
PASS_MIN_CORRECT = 5
FREQ_HZ = 200.0
TONE_S = 1.0
RAMP_S = 0.1
GAP_S = 0.5
LEVEL = 0.25  # linear peak of the loud tones (about -12 dBFS)
QUIET_DB = -6.0


def make_layout(rng: random.Random) -> list[tuple[int, int]]:
    """``(quiet_position, antiphase_position)`` per trial, positions 1..3 and always different."""
    out = []
    for _ in range(TRIALS):
        quiet, anti = rng.sample([1, 2, 3], 2)
        out.append((quiet, anti))
    return out


def trial_audio(quiet: int, antiphase: int, sample_rate: int) -> bytes:
    """Stereo WAV of one trial's three intervals. Every trial has the same length, so the same byte size."""
    n = int(TONE_S * sample_rate)
    r = int(RAMP_S * sample_rate)
    t = np.arange(n) / sample_rate
    tone = np.sin(2 * np.pi * FREQ_HZ * t)
    env = np.ones(n)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(r) + 0.5) / r)
    env[:r], env[-r:] = ramp, ramp[::-1]
    tone = LEVEL * tone * env
    gap = np.zeros((int(GAP_S * sample_rate), 2))
    parts = []
    for pos in (1, 2, 3):
        x = tone * (10 ** (QUIET_DB / 20) if pos == quiet else 1.0)
        right = -x if pos == antiphase else x
        parts += [np.stack([x, right], axis=1), gap]
    return wav_bytes(np.concatenate(parts[:-1]).astype(np.float32), sample_rate)


def score(layout: list[tuple[int, int]], answers: list[int]) -> int:
    return sum(int(a == q) for (q, _), a in zip(layout, answers))
