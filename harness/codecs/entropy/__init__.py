"""Entropy coding of residual-VQ codes: a context model (:mod:`.context_model`), a lossless range coder driven by it
(:mod:`.coder`, using ``constriction``), and the training recipe (:mod:`.train`, ``scripts/train_entropy_model.py``).
The ``soundstream_ec`` codec (:mod:`harness.codecs.soundstream_ec`) uses them."""
