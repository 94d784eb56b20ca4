"""Our SoundStream codec (arXiv 2107.03312): model, training, streaming inference and the harness adapter."""
