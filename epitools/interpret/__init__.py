"""Attributions, motifs and attention tracks."""
