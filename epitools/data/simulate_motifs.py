"""JASPAR motifs for the simulator: load, sample instances from PWMs, score sites.

Motifs come from the JASPAR 2024 CORE vertebrate collection bundled with pyjaspar
(offline). Probability matrices are ``(4, L)`` float arrays over A, C, G, T.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from epitools.data.encoding import reverse_complement
from epitools.errors import InputError

JASPAR_RELEASE = "JASPAR2024"

# Dissimilar, information-rich CORE vertebrate motifs (pairwise Tomtom p > 1e-3).
# Enhancer families and promoter families are paired index by index: the grammar.
ENHANCER_MOTIFS = ("MA0099.4", "MA1494.2", "MA0466.4")  # FOS::JUN, HNF4A, CEBPB
PROMOTER_MOTIFS = ("MA0506.3", "MA0028.3", "MA0060.4")  # NRF1, ELK1, NFYA

_PSEUDOCOUNT = 0.25


@dataclass(frozen=True)
class Motif:
    """One JASPAR motif: ``counts`` and ``probs`` are ``(4, L)`` over A, C, G, T."""

    jaspar_id: str
    name: str
    counts: np.ndarray
    probs: np.ndarray

    @property
    def length(self) -> int:
        return self.probs.shape[1]

    @property
    def consensus(self) -> str:
        return "".join("ACGT"[i] for i in self.probs.argmax(0))

    def log_odds(self, background=(0.295, 0.205, 0.205, 0.295)) -> np.ndarray:
        """``(4, L)`` log2 odds of the motif against an i.i.d. background."""
        bg = np.asarray(background, dtype=float)[:, None]
        return np.log2(self.probs / bg)

    def to_dict(self) -> dict:
        return {"jaspar_id": self.jaspar_id, "name": self.name, "length": self.length,
                "consensus": self.consensus,
                "counts": {b: [float(x) for x in self.counts[i]] for i, b in enumerate("ACGT")}}


def load_motif(jaspar_id: str) -> Motif:
    """Fetch one motif by matrix ID from pyjaspar's bundled JASPAR 2024 database."""
    from pyjaspar import jaspardb

    record = jaspardb(release=JASPAR_RELEASE).fetch_motif_by_id(jaspar_id)
    if record is None:
        raise InputError(f"motif {jaspar_id} not found in {JASPAR_RELEASE}", field="motif")
    counts = np.array([record.counts[b] for b in "ACGT"], dtype=float)
    probs = (counts + _PSEUDOCOUNT) / (counts + _PSEUDOCOUNT).sum(0, keepdims=True)
    return Motif(jaspar_id=record.matrix_id, name=record.name, counts=counts, probs=probs)


def load_motifs(ids) -> list[Motif]:
    return [load_motif(i) for i in ids]


def sharpen(probs: np.ndarray, strength: float) -> np.ndarray:
    """Raise a ``(4, L)`` PWM to the power ``strength`` and renormalise each column.

    ``strength`` 1 samples from the PWM itself; larger values move instances towards
    the consensus, smaller ones towards uniform.
    """
    powered = probs ** float(strength)
    return powered / powered.sum(0, keepdims=True)


def sample_instances(motif: Motif, n: int, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` forward-strand instances, returned as ``(n, L)`` uint8 base codes."""
    cdf = np.cumsum(sharpen(motif.probs, strength), axis=0)  # (4, L)
    u = rng.random((n, motif.length))
    codes = (u[:, None, :] > cdf[None, :, :]).sum(1)
    return np.minimum(codes, 3).astype(np.uint8)


def score_sites(motif: Motif, codes: np.ndarray, strands) -> np.ndarray:
    """Log-odds score of each ``(n, L)`` site read on its strand (``'+'`` or ``'-'``).

    Sites on ``'-'`` are scored on their reverse complement. Returns ``(n,)`` float.
    """
    codes = np.asarray(codes)
    minus = np.asarray(strands) == "-"
    oriented = np.where(minus[:, None], reverse_complement(codes), codes)
    lo = motif.log_odds()
    safe = np.minimum(oriented, 3)
    scores = lo[safe, np.arange(motif.length)[None, :]]
    return np.where(oriented < 4, scores, -10.0).sum(1)


def max_scores(motif: Motif, codes: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Best log-odds score of ``motif`` on either strand of each sequence.

    Parameters
    ----------
    codes : (n, L) uint8 base codes (N scores as a strong mismatch).

    Returns
    -------
    (n,) float: the maximum over positions and both strands.
    """
    codes = np.asarray(codes)
    lo = motif.log_odds()
    lo = np.concatenate([lo, np.full((1, motif.length), -10.0)])  # row 4: N
    rc = lo[[3, 2, 1, 0, 4]][:, ::-1]  # the reverse-complement motif read on the + strand
    cols = np.arange(motif.length)
    out = np.empty(len(codes))
    for s in range(0, len(codes), chunk):
        win = np.lib.stride_tricks.sliding_window_view(codes[s:s + chunk], motif.length, axis=1)
        fwd = lo[win, cols].sum(-1)
        rev = rc[win, cols].sum(-1)
        out[s:s + chunk] = np.maximum(fwd.max(1), rev.max(1))
    return out
