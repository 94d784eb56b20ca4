"""Headphone screening by dichotic (Huggins) pitch, after Milne et al. (2021).

A. E. Milne, R. Bianco, K. C. Poole, S. Zhao, A. J. Oxenham, A. J. Billig, M. Chait, "An online headphone
screening test based on dichotic pitch", Behavior Research Methods 53:1551-1562 (2021): each trial has three
1000 ms white-noise intervals; in one, the noise of one ear is phase-inverted in a narrow band around 600 Hz
(+-6 %), which over headphones is heard as a faint tone inside the noise (Huggins pitch) and over loudspeakers
is not. The listener picks the interval with the tone. Six trials; a rater passes with at least five correct.

No byte-level answer: every interval is fresh white noise with the same RMS in each channel, and every interval
has one ear phase-inverted in a band of the same width (72 Hz). Unlike diotic distractors (where left == right
would give the target away), the distractors' band lies at 2.5-3.5 kHz, above the ~1.5 kHz limit of the
ear's interaural phase sensitivity, so it creates no pitch. File size, headers, per-channel level, the level of
left + right and a left/right comparison are therefore alike for all three intervals: only *where* the
inverted band lies differs, which a listener hears over headphones and a script must find by cross-spectral
analysis of the test's design. (Our variation of Milne et al.'s diotic distractors.)
"""

from __future__ import annotations

import random

import numpy as np

from harness.webtest.study import wav_bytes

TRIALS = 6
PASS_MIN_CORRECT = 5
CENTER_HZ = 600.0
HALF_BAND_HZ = 36.0  # +-6 % of 600 Hz; distractors use the same width
DISTRACTOR_HZ = (2500.0, 3500.0)  # above the limit of interaural phase sensitivity: no pitch
NOISE_S = 1.0
RAMP_S = 0.02
GAP_S = 0.5
RMS = 0.1  # per channel (about -20 dBFS)


def make_layout(rng: random.Random) -> list[tuple[int, int]]:
    """``(target_position, noise_seed)`` per trial; the target interval (1..3) holds the Huggins pitch."""
    return [(rng.randint(1, 3), rng.getrandbits(31)) for _ in range(TRIALS)]


def _interval(seed: int, sample_rate: int, *, target: bool) -> np.ndarray:
    n = int(NOISE_S * sample_rate)
    rng = np.random.default_rng(seed)
    left = rng.standard_normal(n)
    hi = min(DISTRACTOR_HZ[1], 0.4 * sample_rate)
    center = CENTER_HZ if target else rng.uniform(min(DISTRACTOR_HZ[0], hi), hi)
    spec = np.fft.rfft(left)
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    band = np.abs(f - center) <= HALF_BAND_HZ
    right = np.fft.irfft(np.where(band, -spec, spec), n)
    x = np.stack([left, right], axis=1)
    x *= RMS / np.sqrt(np.mean(x ** 2, axis=0))
    r = int(RAMP_S * sample_rate)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(r) + 0.5) / r)
    x[:r] *= ramp[:, None]
    x[-r:] *= ramp[::-1, None]
    return x


def trial_audio(target: int, seed: int, sample_rate: int) -> bytes:
    """Stereo WAV of one trial's three intervals. Every trial has the same length, so the same byte size."""
    gap = np.zeros((int(GAP_S * sample_rate), 2))
    parts = []
    for pos in (1, 2, 3):
        parts += [_interval(seed * 4 + pos, sample_rate, target=pos == target), gap]
    return wav_bytes(np.concatenate(parts[:-1]).astype(np.float32), sample_rate)


def score(layout: list[tuple[int, int]], answers: list[int]) -> int:
    return sum(int(a == t) for (t, _), a in zip(layout, answers))


def trial_seconds() -> float:
    """Length of one headphone-check sound (three noise intervals and two gaps), in seconds."""
    return 3 * NOISE_S + 2 * GAP_S
