"""Where each objective metric is valid: input sample rates, content types, value range, direction.

:func:`check` is called before a metric runs: an input rate below the metric's rate, or content the metric was
not designed for (a speech metric on music), is a :class:`~harness.analysis.metrics.MetricError` with the reason and
what to use instead. Content comes from the item's category name (:func:`content_of`); an unknown category is
allowed and noted, so the agreement report can say the domain was not checked.
"""

from __future__ import annotations

import dataclasses

SPEECH = ("speech", "mixed")  # mixed = speech with background (noise, music bed)
ANY = ("speech", "mixed", "music", "unknown")


@dataclasses.dataclass(frozen=True)
class Domain:
    """Validity of one metric. ``min_rate``: lowest input rate in Hz (higher rates are resampled to ``rate``)."""

    rate: int | None  # the rate the metric runs at (None: at the input rate)
    min_rate: int
    content: tuple[str, ...]
    value_range: tuple[float, float]
    higher_is_better: bool
    intrusive: bool
    unit: str
    source: str


DOMAINS: dict[str, Domain] = {
    "visqol-audio": Domain(48000, 8000, ANY, (1.0, 5.0), True, True, "MOS-LQO",
                           "Chinen et al. 2020, ViSQOL v3 (audio mode)"),
    "visqol-speech": Domain(16000, 8000, SPEECH, (1.0, 5.0), True, True, "MOS-LQO",
                            "Chinen et al. 2020, ViSQOL v3 (speech mode)"),
    "si-snr": Domain(None, 1, ANY, (float("-inf"), float("inf")), True, True, "dB", "Le Roux et al. 2019"),
    "si-sdr": Domain(None, 1, ANY, (float("-inf"), float("inf")), True, True, "dB", "Le Roux et al. 2019"),
    "mel": Domain(24000, 8000, ANY, (0.0, float("inf")), False, True, "log10-mel L1", "multi-resolution log-mel"),
    "pesq": Domain(16000, 16000, SPEECH, (1.04, 4.64), True, True, "MOS-LQO",
                   "ITU-T P.862.2 (2007) wide-band PESQ"),
    "pesq-nb": Domain(8000, 8000, SPEECH, (1.02, 4.55), True, True, "MOS-LQO",
                      "ITU-T P.862 + P.862.1 (2003) narrow-band PESQ"),
    "stoi": Domain(10000, 10000, SPEECH, (0.0, 1.0), True, True, "",
                   "Taal et al. 2011, IEEE TASLP 19(7)"),
    "estoi": Domain(10000, 10000, SPEECH, (-1.0, 1.0), True, True, "",
                    "Jensen & Taal 2016, IEEE/ACM TASLP 24(11)"),
    "dnsmos": Domain(16000, 16000, SPEECH, (1.0, 5.0), True, False, "MOS (P.835 OVRL)",
                     "Reddy et al. 2022, DNSMOS P.835, ICASSP"),
}

_SPEECH_WORDS = ("speech", "voice", "tts", "talk", "speaker", "vocal")
_MUSIC_WORDS = ("music", "song", "instrument", "orchestra", "piano", "guitar")
_MIXED_WORDS = ("mixed", "noisy", "noise", "babble", "reverb")


def content_of(category: str | None) -> str:
    """``speech``, ``music``, ``mixed`` or ``unknown`` from a category name (e.g. a sub-folder of --items)."""
    c = str(category or "").lower()
    if any(w in c for w in _MIXED_WORDS):
        return "mixed"
    if any(w in c for w in _SPEECH_WORDS):
        return "speech"
    if any(w in c for w in _MUSIC_WORDS):
        return "music"
    return "unknown"


def check(name: str, *, sample_rate: int, content: str | None = None) -> None:
    """Raise MetricError if metric ``name`` is not valid for this input rate (Hz) or content type."""
    from harness.analysis.metrics import MetricError

    dom = DOMAINS.get(name)
    if dom is None:
        return
    if sample_rate < dom.min_rate:
        raise MetricError(f"{name} needs input sampled at >= {dom.min_rate} Hz ({dom.source}); got {sample_rate} Hz. "
                          + ("Use pesq-nb for narrow-band audio." if name == "pesq" else
                             "Upsampling would not add the missing band: use a metric valid at this rate."))
    if content is not None and content != "unknown" and content not in dom.content:
        alt = "visqol-audio, si-snr or mel" if content == "music" else "a metric valid for it"
        raise MetricError(f"{name} is defined for {' / '.join(dom.content)} ({dom.source}), not {content}; "
                          f"use {alt}. If this item is speech, put it in a category named e.g. 'speech'.")


def out_of_domain(name: str, content: str) -> str:
    """A sentence if metric ``name`` on ``content`` is outside its domain or unchecked, else ''."""
    dom = DOMAINS.get(name)
    if dom is None:
        return f"{name}: no recorded domain"
    if content == "unknown":
        return f"{name}: content type unknown (category name), domain not checked"
    if content not in dom.content:
        return f"{name} is a {'/'.join(dom.content)} metric used on {content}"
    return ""
