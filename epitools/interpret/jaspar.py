"""JASPAR 2024 CORE vertebrate motifs (non-redundant) as probability matrices, offline.

The matrices come from the database bundled with pyjaspar; "non-redundant" is JASPAR's
latest version of each matrix (``all_versions=False``). Matrices are ``(4, L)`` over
A, C, G, T, the layout memelite's ``tomtom`` and ``fimo`` take.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from epitools.data.simulate_motifs import JASPAR_RELEASE

_PSEUDOCOUNT = 0.25


@dataclass(frozen=True)
class MotifDatabase:
    """Motifs of one collection: ``ids[i]``, ``names[i]`` and ``ppms[i]`` ``(4, L_i)``."""

    ids: tuple
    names: tuple
    ppms: tuple
    release: str = JASPAR_RELEASE
    families: tuple = ()  # per motif: frozenset of JASPAR TF families (paralogs share a site)

    def __len__(self) -> int:
        return len(self.ids)

    def index(self, jaspar_id: str) -> int:
        """Position of a matrix ID (``MA0099.4``) or base ID (``MA0099``) in the database."""
        base = jaspar_id.split(".")[0]
        for i, mid in enumerate(self.ids):
            if mid == jaspar_id or mid.split(".")[0] == base:
                return i
        raise KeyError(jaspar_id)

    def subset(self, indices) -> "MotifDatabase":
        indices = list(indices)
        return MotifDatabase(tuple(self.ids[i] for i in indices), tuple(self.names[i] for i in indices),
                             tuple(self.ppms[i] for i in indices), self.release,
                             tuple(self.families[i] for i in indices) if self.families else ())

    def same_family(self, id_a: str, id_b: str) -> bool:
        """Whether two motifs share a JASPAR TF family (e.g. FOS::JUN and JUND: Jun-related)."""
        if not self.families:
            return False
        return bool(self.families[self.index(id_a)] & self.families[self.index(id_b)])

    def as_dict(self) -> dict:
        """``{"ID NAME": ppm}``, the motif mapping memelite's ``fimo`` takes."""
        return {f"{i} {n}": p for i, n, p in zip(self.ids, self.names, self.ppms)}


def counts_to_ppm(counts: np.ndarray, pseudocount: float = _PSEUDOCOUNT) -> np.ndarray:
    """``(4, L)`` counts → column-normalised probabilities with a pseudocount."""
    counts = np.asarray(counts, dtype=np.float64) + pseudocount
    return counts / counts.sum(0, keepdims=True)


@functools.lru_cache(maxsize=4)
def load_jaspar(collection: str = "CORE", tax_group: str = "vertebrates",
                release: str = JASPAR_RELEASE) -> MotifDatabase:
    """Latest version of every matrix of a JASPAR collection from pyjaspar's bundled database.

    Returns
    -------
    MotifDatabase
        879 motifs for JASPAR 2024 CORE vertebrates; cached per process.
    """
    from pyjaspar import jaspardb

    records = jaspardb(release=release).fetch_motifs(collection=collection, tax_group=[tax_group],
                                                     all_versions=False)
    ids, names, ppms, families = [], [], [], []
    for rec in records:
        families.append(frozenset(rec.tf_family or ()))
        ids.append(rec.matrix_id)
        names.append(rec.name)
        ppms.append(counts_to_ppm(np.array([rec.counts[b] for b in "ACGT"], dtype=np.float64)))
    return MotifDatabase(tuple(ids), tuple(names), tuple(ppms), release, tuple(families))


def same_tf(name_a: str, name_b: str) -> bool:
    """Whether two JASPAR TF names share a factor (``FOS::JUN`` matches ``JUN``; case-blind)."""
    a = {p.upper() for p in name_a.split("::")}
    b = {p.upper() for p in name_b.split("::")}
    return bool(a & b)
