"""Planted variants of the simulator: motif-breaking, neutral and outside-window SNVs and indels.

``plant_variants`` draws, for a simulated genome, three classes of small variants whose
effect is known by construction:

* ``motif_breaking``: one per driver enhancer (cell type 1) and one per promoter of an
  interacting pair, hitting a planted motif instance of the element: an SNV to the least
  likely base at the motif's most specific column, a deletion of the motif's middle bases, or
  an insertion of random bases into it. Expected sign: negative for the element's interacting
  pairs and for the expression of the genes it drives (the site a TF binds is lost);
* ``neutral``: one per such element at a random position of the same central region (where
  the planted motifs lie), at least :data:`SITE_MARGIN` bp from every motif site; same kinds.
  Expected sign 0;
* ``outside``: positions at least :data:`OUTSIDE_DISTANCE` bp from every enhancer and TSS,
  outside any window of up to ``2 * OUTSIDE_DISTANCE`` bp: tools must report them as not scored.

:func:`write_vcf` writes them as a bgzipped, tabix-indexed VCF 4.2 (sorted, REF from the genome).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

SITE_MARGIN = 3
OUTSIDE_DISTANCE = 2500
NEUTRAL_RADIUS = 120  # half the central region where planted motifs lie
KINDS = ("snv", "deletion", "insertion")
KIND_WEIGHTS = (0.7, 0.15, 0.15)
N_OUTSIDE = 40
_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def _seq(genome, offset: int, start: int, end: int) -> str:
    return _BASES[genome[offset + start:offset + end]].tobytes().decode()


def _allele(genome, offset, kind, pos, length, rng):
    """(VCF POS 1-based, REF, ALT) of a variant at 0-based ``pos`` (deletions/insertions after
    the anchor base at ``pos - 1``)."""
    if kind == "snv":
        ref = int(genome[offset + pos])
        return pos + 1, "ACGT"[ref], "ACGT"[(ref + rng.integers(1, 4)) % 4]
    anchor = pos - 1
    if kind == "deletion":
        return anchor + 1, _seq(genome, offset, anchor, pos + length), _seq(genome, offset, anchor, pos)
    inserted = "".join("ACGT"[b] for b in rng.integers(0, 4, length))
    return anchor + 1, _seq(genome, offset, anchor, pos), _seq(genome, offset, anchor, pos) + inserted


def _breaking(site, motif, genome, offset, kind, rng):
    """A variant that destroys planted site ``site`` (a motif_sites row) of ``motif``."""
    start, length = int(site.start), motif.length
    if kind == "snv":
        column = int(motif.probs.max(0).argmax())  # the most specific column
        least = int(motif.probs[:, column].argmin())
        if site.strand == "-":
            pos, alt = start + length - 1 - column, 3 - least
        else:
            pos, alt = start + column, least
        ref = int(genome[offset + pos])
        if alt == ref:
            alt = (ref + 2) % 4
        return pos + 1, "ACGT"[ref], "ACGT"[alt]
    size = int(rng.integers(4, 9))
    middle = start + length // 2
    if kind == "deletion":
        size = min(size, length - 2)
        return _allele(genome, offset, kind, middle - size // 2, size, rng)
    return _allele(genome, offset, kind, middle, size, rng)


def _near_sites(chrom_sites: dict, chrom: str, pos: int, span: int) -> bool:
    starts, ends = chrom_sites.get(chrom, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
    return bool(((starts - SITE_MARGIN < pos + span) & (ends + SITE_MARGIN > pos)).any())


def plant_variants(genome: np.ndarray, offsets: np.ndarray, chroms, genes: pd.DataFrame,
                   enh: pd.DataFrame, sites: pd.DataFrame, inter: pd.DataFrame, motifs, cell_type: str,
                   rng: np.random.Generator) -> pd.DataFrame:
    """Draw the planted variants of a simulation.

    Parameters
    ----------
    genome : numpy.ndarray
        uint8 base codes of all chromosomes joined, shape (n_chroms * chrom_size,).
    offsets : numpy.ndarray
        Start of each chromosome in ``genome``, shape (n_chroms,).
    chroms : list of str
    genes, enh : pandas.DataFrame
        The simulator's gene and enhancer tables (``tss``/``centre``, ``chrom_index``, ids).
    sites : pandas.DataFrame
        ``motif_sites.tsv`` rows (planted, decoy and background sites).
    inter : pandas.DataFrame
        Interactions (``cell_type g e``).
    motifs : list of Motif
        Indexable by the JASPAR id of ``sites.motif_id`` through their ``jaspar_id``.
    cell_type : str
        The cell type whose interactions (drivers) are planted on.

    Returns
    -------
    pandas.DataFrame
        One row per variant, sorted by chromosome and position: ``id chrom pos ref alt kind
        class element element_id genes motif_id expected_pair expected_expression``
        (``pos`` 1-based as in VCF; ``genes`` comma-separated).
    """
    by_id = {m.jaspar_id: m for m in motifs}
    ct0 = inter[inter["cell_type"] == cell_type]
    gene_names = genes["gene"].to_numpy()
    driven = ct0.groupby("e")["g"].apply(lambda g: ",".join(gene_names[np.sort(g.to_numpy())]))
    drivers = enh.iloc[driven.index.to_numpy()]
    drivers = drivers[drivers["is_primary"].to_numpy() & (drivers["family"].to_numpy() >= 0)]
    interacting = np.unique(ct0["g"].to_numpy())
    elements = pd.concat([
        pd.DataFrame({"element": "enhancer", "element_id": drivers["enhancer_id"].to_numpy(),
                      "chrom_index": drivers["chrom_index"].to_numpy(), "centre": drivers["centre"].to_numpy(),
                      "genes": driven.loc[drivers.index].to_numpy()}),
        pd.DataFrame({"element": "promoter", "element_id": genes["promoter_id"].to_numpy()[interacting],
                      "chrom_index": genes["chrom_index"].to_numpy()[interacting],
                      "centre": genes["tss"].to_numpy()[interacting], "genes": gene_names[interacting]}),
    ], ignore_index=True)
    planted = sites[sites["kind"] == "planted"].set_index("element_id")
    chrom_sites = {c: (g["start"].to_numpy(np.int64), g["end"].to_numpy(np.int64))
                   for c, g in sites.groupby("chrom")}
    rows = []
    for cls in ("motif_breaking", "neutral"):
        kinds = rng.choice(len(KINDS), len(elements), p=KIND_WEIGHTS)
        for el, k in zip(elements.itertuples(index=False), kinds):
            chrom, offset, kind = chroms[el.chrom_index], int(offsets[el.chrom_index]), KINDS[k]
            if cls == "motif_breaking":
                own = planted.loc[[el.element_id]] if el.element_id in planted.index else planted.iloc[:0]
                if own.empty:
                    continue
                # the planted copy nearest the centre: inside even a short window
                site = own.iloc[int(np.abs((own["start"] + own["end"]) // 2 - el.centre).argmin())]
                pos, ref, alt = _breaking(site, by_id[site["motif_id"]], genome, offset, kind, rng)
                motif_id, expected = site["motif_id"], -1
            else:
                span = int(rng.integers(4, 9)) if kind != "snv" else 1
                for _ in range(200):
                    pos0 = int(el.centre + rng.integers(-NEUTRAL_RADIUS, NEUTRAL_RADIUS))
                    if not _near_sites(chrom_sites, chrom, pos0 - 1, span + 1):
                        break
                else:
                    continue
                pos, ref, alt = _allele(genome, offset, kind, pos0, span, rng)
                motif_id, expected = "", 0
            rows.append((chrom, pos, ref, alt, kind, cls, el.element, el.element_id, el.genes, motif_id,
                         expected, expected))
    rows += _outside(genome, offsets, chroms, genes, enh, rng)
    table = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt", "kind", "class", "element",
                                        "element_id", "genes", "motif_id", "expected_pair",
                                        "expected_expression"])
    table["_ci"] = table["chrom"].map({c: i for i, c in enumerate(chroms)})
    table = table.sort_values(["_ci", "pos", "ref", "alt"], kind="stable").drop(columns="_ci")
    table = table.drop_duplicates(["chrom", "pos", "ref", "alt"]).reset_index(drop=True)
    table.insert(0, "id", [f"simvar_{i + 1:05d}" for i in range(len(table))])
    return table


def _outside(genome, offsets, chroms, genes, enh, rng) -> list:
    """SNVs (and a few indels) at least OUTSIDE_DISTANCE bp from every enhancer and TSS."""
    size = int(offsets[1] - offsets[0]) if len(offsets) > 1 else int(genome.size)
    rows = []
    for attempt in range(50 * N_OUTSIDE):
        if len(rows) >= N_OUTSIDE:
            break
        ci = int(rng.integers(0, len(chroms)))
        pos0 = int(rng.integers(OUTSIDE_DISTANCE + 10, size - OUTSIDE_DISTANCE - 10))
        on = enh["chrom_index"].to_numpy() == ci
        gap_enh = np.maximum(enh["start"].to_numpy()[on] - pos0, pos0 - enh["end"].to_numpy()[on])
        gap_tss = np.abs(genes["tss"].to_numpy()[genes["chrom_index"].to_numpy() == ci] - pos0)
        if min(gap_enh.min(initial=size), gap_tss.min(initial=size)) < OUTSIDE_DISTANCE:
            continue
        kind = KINDS[int(rng.choice(len(KINDS), p=KIND_WEIGHTS))]
        pos, ref, alt = _allele(genome, int(offsets[ci]), kind, pos0, int(rng.integers(4, 9)), rng)
        rows.append((chroms[ci], pos, ref, alt, kind, "outside", "", "", "", "", None, None))
    return rows


def vcf_text(variants: pd.DataFrame, chrom_sizes: dict) -> str:
    """The VCF 4.2 text of :func:`plant_variants`' table (INFO: class, kind, element)."""
    header = ["##fileformat=VCFv4.2", "##source=epi-simulate"]
    header += [f"##contig=<ID={c},length={s}>" for c, s in chrom_sizes.items()]
    header += ['##INFO=<ID=CLASS,Number=1,Type=String,Description="motif_breaking, neutral or outside">',
               '##INFO=<ID=KIND,Number=1,Type=String,Description="snv, deletion or insertion">',
               '##INFO=<ID=ELEMENT,Number=1,Type=String,Description="Element the variant was planted in">',
               "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    lines = [f"{r.chrom}\t{r.pos}\t{r.id}\t{r.ref}\t{r.alt}\t.\tPASS\tCLASS={r._6};KIND={r.kind}"
             + (f";ELEMENT={r.element_id}" if r.element_id else "")
             for r in variants.itertuples(index=False)]
    return "\n".join(header + lines) + "\n"


def write_vcf(path, variants: pd.DataFrame, chrom_sizes: dict) -> None:
    """Write ``path`` (``.vcf.gz``, bgzipped) and its tabix index ``path.tbi``."""
    import pysam

    plain = f"{path}.plain.vcf"
    with open(plain, "w") as fh:
        fh.write(vcf_text(variants, chrom_sizes))
    pysam.tabix_index(plain, preset="vcf", force=True, keep_original=False)
    os.replace(f"{plain}.gz", path)
    os.replace(f"{plain}.gz.tbi", f"{path}.tbi")


def truth_records(variants: pd.DataFrame) -> list[dict]:
    """The ``truth.json`` ``variants`` list: one dict per variant (expected signs None outside)."""
    out = []
    for r in variants.to_dict("records"):
        for key in ("expected_pair", "expected_expression"):
            r[key] = None if r[key] is None or r[key] != r[key] else int(r[key])
        r["pos"] = int(r["pos"])
        out.append(r)
    return out
