"""mushra-harness: crowdsourced MUSHRA listening tests and objective evaluation of audio codecs."""

__version__ = "0.1.0"
