"""Shipped SoundStream checkpoint (soundstream_small.pt) and its model card; a package so the files install."""
