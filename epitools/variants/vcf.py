"""Reading VCF/BCF records as a table of biallelic SNVs and small indels.

Multi-allelic records are split into one row per ALT allele; symbolic alleles (``<DEL>``,
breakends, ``*``) and alleles longer than :data:`MAX_ALLELE` bp are skipped and counted.
Chromosome names are resolved through the genome's aliases (``1``/``chr1``) as for pairs;
every REF allele is checked against the genome.
"""

from __future__ import annotations

import logging
import os
import re

import numpy as np
import pandas as pd

from epitools.errors import GenomeError, InputError

log = logging.getLogger(__name__)

MAX_ALLELE = 50
VARIANT_COLUMNS = ["variant_id", "chrom", "pos", "ref", "alt", "kind", "start", "end", "record"]
_BASES = re.compile(r"^[ACGTNacgtn]+$")
_DECODE = np.frombuffer(b"ACGTN", dtype=np.uint8)


def variant_kind(ref: str, alt: str) -> str:
    """``snv``, ``deletion``, ``insertion`` or ``substitution`` (MNV / complex, same or other length)."""
    if len(ref) == len(alt) == 1:
        return "snv"
    if len(alt) == 1 and len(ref) > 1 and ref[0] == alt[0]:
        return "deletion"
    if len(ref) == 1 and len(alt) > 1 and ref[0] == alt[0]:
        return "insertion"
    return "substitution"


def read_variants(path, genome=None, *, skip_ref_mismatch: bool = False, max_allele: int = MAX_ALLELE
                  ) -> tuple[pd.DataFrame, dict]:
    """Biallelic variants of a VCF/BCF (plain, bgzipped or BCF; an index is not needed).

    Parameters
    ----------
    path : path
    genome : epitools.io.genome.Genome, optional
        Resolves chromosome aliases and checks REF; a REF that differs from the genome raises
        unless ``skip_ref_mismatch``.
    skip_ref_mismatch : bool
        Drop (and count) records whose REF differs from the genome instead of raising.
    max_allele : int
        Longest REF or ALT kept (bp).

    Returns
    -------
    variants : pandas.DataFrame
        :data:`VARIANT_COLUMNS`: ``pos`` 1-based as in the VCF; ``start``/``end`` the 0-based,
        half-open span of REF on the genome's chromosome ``chrom``; ``record`` the record number.
    counts : dict
        ``records``, ``alleles``, ``symbolic``, ``too_long``, ``ref_mismatch``, ``unknown_chrom``.

    Raises
    ------
    InputError
        An unreadable file, or a REF allele that is not the genome's (naming the record, the
        VCF's REF and the genome's bases).
    """
    import pysam

    try:
        vcf = pysam.VariantFile(os.fspath(path))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read VCF/BCF: {exc}", path=path) from exc
    counts = dict.fromkeys(("records", "alleles", "symbolic", "too_long", "ref_mismatch", "unknown_chrom"), 0)
    rows = []
    resolved = {}
    with vcf:
        for number, rec in enumerate(vcf, start=1):
            counts["records"] += 1
            ref = (rec.ref or "").upper()
            chrom = rec.chrom
            if genome is not None and chrom not in resolved:
                try:
                    resolved[chrom] = genome.resolve(chrom)
                except GenomeError as exc:
                    raise InputError(f"record {number} ({chrom}:{rec.pos}): {exc.message}", path=path,
                                     field="CHROM") from exc
            name = resolved.get(chrom, chrom)
            start = rec.pos - 1
            for alt in rec.alts or ():
                counts["alleles"] += 1
                if not _BASES.match(alt) or not _BASES.match(ref):
                    counts["symbolic"] += 1
                    continue
                if max(len(ref), len(alt)) > max_allele:
                    counts["too_long"] += 1
                    continue
                if genome is not None:
                    found = _DECODE[genome.fetch_codes(name, start, start + len(ref))].tobytes().decode()
                    if found != ref:
                        if not skip_ref_mismatch:
                            raise InputError(
                                f"record {number} ({chrom}:{rec.pos} {ref}>{alt}{_id(rec)}): REF {ref} but "
                                f"the genome has {found} at {name}:{rec.pos} [{genome.path}]; another "
                                "genome build? (--skip-ref-mismatch drops such records)", path=path,
                                field="REF")
                        counts["ref_mismatch"] += 1
                        continue
                vid = rec.id if rec.id and len(rec.alts) == 1 else f"{chrom}:{rec.pos}:{ref}:{alt.upper()}"
                rows.append((vid, name, rec.pos, ref, alt.upper(), variant_kind(ref, alt.upper()), start,
                             start + len(ref), number))
    variants = pd.DataFrame(rows, columns=VARIANT_COLUMNS)
    if counts["symbolic"] or counts["too_long"] or counts["ref_mismatch"]:
        log.info("VCF %s: %d symbolic and %d alleles over %d bp skipped, %d REF mismatches dropped",
                 path, counts["symbolic"], counts["too_long"], max_allele, counts["ref_mismatch"])
    return variants, counts


def _id(rec) -> str:
    return f", ID {rec.id}" if rec.id else ""
