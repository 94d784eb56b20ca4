"""Our SoundStream codec (arXiv 2107.03312): model, training, streaming inference and the harness adapter.

Importing the package registers the ``soundstream`` adapter (needs PyTorch)."""

from harness.codecs.soundstream.adapter import SHIPPED_CHECKPOINT, SoundStreamCodec

__all__ = ["SoundStreamCodec", "SHIPPED_CHECKPOINT"]
