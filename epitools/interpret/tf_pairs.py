"""Enhancer-TF x promoter-TF enrichment in interacting pairs (EPIANN Fig. 4).

The top regions of each pair's enhancer and promoter (``top_regions.tsv`` of
``epi-attribute tracks``) are scanned with FIMO (memelite) for JASPAR motifs. A pair
"has" a TF on a side when any of that side's regions holds a hit. For every
(enhancer TF, promoter TF) the pairs holding both are counted among interacting
(label 1) and non-interacting (label 0) pairs; a one-sided Fisher exact test (co-occurrence
enriched in interacting pairs) gives a p-value, Benjamini–Hochberg a q-value over all
tested combinations.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from epitools.data.encoding import encode_sequence, one_hot
from epitools.errors import InputError, UsageError
from epitools.interpret.jaspar import MotifDatabase, load_jaspar
from epitools.interpret.motifs import benjamini_hochberg
from epitools.report.plots import save_figure

log = logging.getLogger(__name__)

REGION_COLUMNS = ("pair_id", "label", "sequence")


def read_regions(path) -> pd.DataFrame:
    """Read a ``top_regions.tsv``; needs ``pair_id``, ``label`` and ``sequence``."""
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", dtype={"pair_id": str, "sequence": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot read regions table: {exc}", path=path) from exc
    missing = [c for c in REGION_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"regions table lacks column(s) {', '.join(missing)}", path=path, line=1,
                         field=missing[0])
    lengths = table["sequence"].fillna("").str.len()
    if len(table) and lengths.nunique() != 1:
        bad = int(np.flatnonzero(lengths.to_numpy() != lengths.iloc[0])[0])
        raise InputError("all region sequences must have one length", path=path, line=bad + 2,
                         field="sequence")
    return table


def motif_presence(sequences, db: MotifDatabase, threshold: float = 1e-4) -> np.ndarray:
    """(R, M) bool: whether FIMO finds motif m (either strand, p < ``threshold``) in region r."""
    from memelite import fimo

    seqs = list(sequences)
    if not seqs:
        return np.zeros((0, len(db)), bool)
    codes = np.stack([encode_sequence(s) for s in seqs])
    hits = fimo(db.as_dict(), one_hot(codes).astype(np.float32), threshold=threshold, dim=0)
    present = np.zeros((len(seqs), len(db)), bool)
    for m, frame in enumerate(hits):
        if len(frame):
            present[frame["sequence_name"].to_numpy(np.int64), m] = True
    return present


def _pair_presence(regions: pd.DataFrame, present: np.ndarray, pair_ids: np.ndarray) -> np.ndarray:
    """Region presence (R, M) → pair presence (P, M): any region of the pair."""
    out = np.zeros((len(pair_ids), present.shape[1]), bool)
    where = pd.Index(pair_ids).get_indexer(regions["pair_id"].astype(str))
    ok = where >= 0
    np.logical_or.at(out, where[ok], present[ok])
    return out


def fisher_greater(a, b, c, d) -> np.ndarray:
    """One-sided Fisher exact p-values (odds ratio > 1) of 2x2 tables [[a, b], [c, d]].

    ``a``: positives with the feature, ``b`` positives without, ``c``/``d`` negatives.
    """
    from scipy.stats import hypergeom

    a, b, c, d = (np.asarray(x, np.int64) for x in (a, b, c, d))
    total = a + b + c + d
    return hypergeom.sf(a - 1, total, a + c, a + b)


def tf_pair_enrichment(enhancer_regions: pd.DataFrame, promoter_regions: pd.DataFrame,
                       db: MotifDatabase | None = None, threshold: float = 1e-4,
                       min_pairs: int = 3) -> pd.DataFrame:
    """Fisher test of every (enhancer TF, promoter TF) co-occurrence in interacting pairs.

    Parameters
    ----------
    enhancer_regions, promoter_regions : pandas.DataFrame
        Top regions with ``pair_id``, ``label`` and ``sequence``.
    db : MotifDatabase, optional
        Motifs scanned (default JASPAR 2024 CORE vertebrates).
    threshold : float
        FIMO p-value threshold of a hit.
    min_pairs : int
        Combinations found in fewer pairs (both classes) are not tested.

    Returns
    -------
    pandas.DataFrame
        Sorted by p-value then odds ratio: ``enhancer_motif enhancer_tf promoter_motif
        promoter_tf pos_with pos_total neg_with neg_total odds_ratio p_value q_value``.
    """
    db = db or load_jaspar()
    labels = pd.concat([enhancer_regions[["pair_id", "label"]], promoter_regions[["pair_id", "label"]]])
    labels = labels.assign(pair_id=labels["pair_id"].astype(str)).drop_duplicates("pair_id")
    both = set(enhancer_regions["pair_id"].astype(str)) & set(promoter_regions["pair_id"].astype(str))
    labels = labels[labels["pair_id"].isin(both) & labels["label"].isin([0, 1])]
    if labels.empty:
        raise UsageError("no pair has labelled (0/1) regions on both sides")
    y = labels["label"].to_numpy(np.int64)
    if not (y == 1).any() or not (y == 0).any():
        raise UsageError("TF-pair enrichment needs both interacting (1) and non-interacting (0) pairs")
    pair_ids = labels["pair_id"].to_numpy()
    enh = _pair_presence(enhancer_regions, motif_presence(enhancer_regions["sequence"], db, threshold),
                         pair_ids)
    pro = _pair_presence(promoter_regions, motif_presence(promoter_regions["sequence"], db, threshold),
                         pair_ids)
    pos, neg = y == 1, y == 0
    a = enh[pos].T.astype(np.int64) @ pro[pos].astype(np.int64)          # (Me, Mp)
    c = enh[neg].T.astype(np.int64) @ pro[neg].astype(np.int64)
    b, d = pos.sum() - a, neg.sum() - c
    tested = (a + c) >= min_pairs
    ei, pj = np.nonzero(tested)
    p = fisher_greater(a[ei, pj], b[ei, pj], c[ei, pj], d[ei, pj])
    odds = ((a[ei, pj] + 0.5) * (d[ei, pj] + 0.5)) / ((b[ei, pj] + 0.5) * (c[ei, pj] + 0.5))
    ids, names = np.asarray(db.ids), np.asarray(db.names)
    table = pd.DataFrame({
        "enhancer_motif": ids[ei], "enhancer_tf": names[ei], "promoter_motif": ids[pj],
        "promoter_tf": names[pj], "pos_with": a[ei, pj], "pos_total": int(pos.sum()),
        "neg_with": c[ei, pj], "neg_total": int(neg.sum()), "odds_ratio": odds, "p_value": p,
        "q_value": benjamini_hochberg(p) if p.size else p})
    table = table.sort_values(["p_value", "odds_ratio"], ascending=[True, False], kind="stable")
    log.info("TF pairs: %d combinations tested over %d pairs (%d interacting)", len(table), len(y),
             int(pos.sum()))
    return table.reset_index(drop=True)


def heatmap(table: pd.DataFrame, path, top: int = 20) -> Path:
    """-log10 q-value heatmap of the TFs in the ``top`` most significant combinations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    head = table.head(top)
    e_tfs = list(dict.fromkeys(head["enhancer_tf"]))
    p_tfs = list(dict.fromkeys(head["promoter_tf"]))
    grid = np.zeros((len(e_tfs), len(p_tfs)))
    sub = table[table["enhancer_tf"].isin(e_tfs) & table["promoter_tf"].isin(p_tfs)]
    for rec in sub.itertuples():
        i, j = e_tfs.index(rec.enhancer_tf), p_tfs.index(rec.promoter_tf)
        grid[i, j] = max(grid[i, j], -np.log10(max(rec.q_value, 1e-300)))
    fig, ax = plt.subplots(figsize=(1.5 + 0.35 * max(len(p_tfs), 1), 1.5 + 0.3 * max(len(e_tfs), 1)))
    try:
        im = ax.imshow(grid if grid.size else np.zeros((1, 1)), cmap="Reds", aspect="auto")
        ax.set_xticks(range(len(p_tfs)), p_tfs, rotation=90, fontsize=7)
        ax.set_yticks(range(len(e_tfs)), e_tfs, fontsize=7)
        ax.set_xlabel("promoter TF")
        ax.set_ylabel("enhancer TF")
        fig.colorbar(im, ax=ax, label="-log10 q")
        fig.tight_layout()
    except BaseException:
        plt.close(fig)
        raise
    return save_figure(fig, Path(path), dpi=100)


def jaspar_subset(motif_ids=None) -> MotifDatabase:
    """JASPAR 2024 CORE vertebrates, or only the comma-separated ``motif_ids`` of it."""
    db = load_jaspar()
    wanted = [m.strip() for m in (motif_ids or "").split(",") if m.strip()]
    if not wanted:
        return db
    indices, unknown = [], []
    for motif in wanted:
        try:
            indices.append(db.index(motif))
        except KeyError:
            unknown.append(motif)
    if unknown:
        raise UsageError(f"--motifs: {', '.join(unknown)} not in {db.release} CORE vertebrates")
    return db.subset(indices)


def write_tf_pairs(enhancer_regions, promoter_regions, out, *, motif_ids=None, threshold: float = 1e-4,
                   min_pairs: int = 3, top: int = 20) -> pd.DataFrame:
    """TF-pair enrichment of two ``top_regions.tsv`` files into ``out/tf_pairs.tsv`` and
    ``out/tf_pairs.png`` (``epi-attribute tf-pairs``); returns the table
    (:func:`tf_pair_enrichment`)."""
    from epitools.io.atomic import atomic_path

    if not 0 < threshold <= 1:
        raise UsageError(f"--fimo-p-value is a p-value in (0, 1], got {threshold:g}")
    table = tf_pair_enrichment(read_regions(enhancer_regions), read_regions(promoter_regions),
                               jaspar_subset(motif_ids), threshold=threshold, min_pairs=min_pairs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "tf_pairs.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4g")
    heatmap(table, out / "tf_pairs.png", top=top)
    return table
