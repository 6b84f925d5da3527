"""Per-base attribution and attention tracks in genome coordinates, and top-scoring regions.

Window values ``(N, L)`` (one per base of each explained window) are placed at the window's
genome position; where windows of several pairs overlap (one enhancer in many pairs) the
track is their mean. Attention maps come at the model's pooled resolution (EPIANN: one
value per 30-bp pooling window; EPIPAM: per 10 bp) and are spread evenly over the bases of
the window, position ``i`` of ``n`` covering ``[i·L/n, (i+1)·L/n)``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from epitools.errors import InputError, UsageError
from epitools.io.atomic import atomic_path

log = logging.getLogger(__name__)


def upsample(values: np.ndarray, length: int) -> np.ndarray:
    """(N, n) pooled values → (N, length): position i covers bases [i·L/n, (i+1)·L/n)."""
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[1]
    owner = np.minimum((np.arange(length) * n) // length, n - 1)
    return values[:, owner]


def window_tracks(values: np.ndarray, chroms, starts, chrom_sizes: dict,
                  reverse_complement=None) -> pd.DataFrame:
    """Per-base ``values`` (N, L) of windows at ``chroms``/``starts`` → bedGraph segments.

    Overlapping windows are averaged; bases outside ``chrom_sizes`` and rows without a
    chromosome are dropped; reverse-complemented windows are flipped back first.

    Returns
    -------
    pandas.DataFrame
        ``chrom start end value``, 1-bp segments merged where neighbours are equal, sorted.
    """
    values = np.asarray(values, dtype=np.float64)
    chroms = np.asarray(chroms).astype(str)
    starts = np.asarray(starts, dtype=np.int64)
    if reverse_complement is not None:
        rc = np.asarray(reverse_complement, bool)
        values = np.where(rc[:, None], values[:, ::-1], values)
    length = values.shape[1]
    unknown = sorted(set(chroms[chroms != ""]) - set(chrom_sizes))
    if unknown:
        raise InputError(f"chromosome(s) {', '.join(unknown[:5])} are not in the chromosome sizes "
                         f"({len(chrom_sizes)} known)", field="chrom")
    frames = []
    for chrom in [c for c in chrom_sizes if c in set(chroms)]:
        rows = np.flatnonzero(chroms == chrom)
        pos = starts[rows, None] + np.arange(length)[None, :]
        ok = (pos >= 0) & (pos < chrom_sizes[chrom])
        lo = int(pos[ok].min()) if ok.any() else 0
        idx = (pos[ok] - lo)
        total = np.bincount(idx, weights=values[rows][ok])
        count = np.bincount(idx)
        covered = np.flatnonzero(count > 0)
        mean = total[covered] / count[covered]
        # Merge runs of equal values on consecutive bases into one segment.
        brk = np.flatnonzero((np.diff(covered) != 1) | (np.diff(mean) != 0)) + 1
        first = np.concatenate([[0], brk])
        last = np.concatenate([brk, [covered.size]])
        frames.append(pd.DataFrame({"chrom": chrom, "start": covered[first] + lo,
                                    "end": covered[last - 1] + lo + 1, "value": mean[first]}))
    if not frames:
        return pd.DataFrame({"chrom": [], "start": [], "end": [], "value": []})
    return pd.concat(frames, ignore_index=True)


def top_regions(values: np.ndarray, width: int = 45, n_regions: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_regions`` non-overlapping ``width``-bp windows of highest summed value per row.

    Parameters
    ----------
    values : numpy.ndarray
        (N, L) per-base scores.

    Returns
    -------
    starts, scores : numpy.ndarray
        (N, n_regions) region starts within the window (-1 when none is left) and sums.
    """
    values = np.asarray(values, dtype=np.float64)
    n, length = values.shape
    if width > length:
        raise UsageError(f"region width {width} exceeds the window length {length}")
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(values, axis=1)], axis=1)
    sums = csum[:, width:] - csum[:, :-width]                         # (N, L-width+1)
    free = np.ones_like(sums, bool)
    starts = np.full((n, n_regions), -1, np.int64)
    scores = np.full((n, n_regions), np.nan)
    offsets = np.arange(sums.shape[1])
    for r in range(n_regions):  # greedy picks, all rows at once
        masked = np.where(free, sums, -np.inf)
        best = masked.argmax(axis=1)
        ok = np.isfinite(masked[np.arange(n), best])
        starts[ok, r] = best[ok]
        scores[ok, r] = sums[ok, best[ok]]
        # No later region may overlap this one.
        free &= ~(ok[:, None] & (np.abs(offsets[None, :] - best[:, None]) < width))
    return starts, scores


def regions_table(values: np.ndarray, ohe: np.ndarray | None, meta: dict, element: str, source: str,
                  width: int = 45, n_regions: int = 5) -> pd.DataFrame:
    """Top regions per window as a table with genome coordinates and sequences.

    ``meta`` carries ``pair_id``, ``label``, ``chrom``, ``window_start`` and
    ``reverse_complement`` (N,) as in ``attributions.npz``.
    """
    starts, scores = top_regions(values, width, n_regions)
    n, length = np.asarray(values).shape
    rows, ranks = np.nonzero(starts >= 0)
    local = starts[rows, ranks]
    rc = np.asarray(meta.get("reverse_complement", np.zeros(n, bool)), bool)[rows]
    genome_off = np.where(rc, length - local - width, local)
    win = np.asarray(meta["window_start"], np.int64)[rows]
    chrom = np.asarray(meta["chrom"]).astype(str)[rows]
    table = pd.DataFrame({
        "chrom": chrom, "start": np.where(win >= 0, win + genome_off, -1),
        "end": np.where(win >= 0, win + genome_off + width, -1),
        "pair_id": np.asarray(meta["pair_id"]).astype(str)[rows], "element": element,
        "rank": ranks + 1, "score": scores[rows, ranks], "source": source,
        "label": np.asarray(meta.get("label", np.full(n, -1)), np.int64)[rows],
        "window_offset": local})
    if ohe is not None:
        letters = np.frombuffer(b"ACGTN", np.uint8)
        hot = np.asarray(ohe)
        codes = np.where(hot.sum(1) > 0.5, hot.argmax(1), 4)           # (N, L)
        cols = local[:, None] + np.arange(width)[None, :]
        table["sequence"] = [s.tobytes().decode() for s in letters[codes[rows[:, None], cols]]]
    return table


def write_regions(table: pd.DataFrame, bed_path, tsv_path) -> None:
    """Top regions as BED6 (name ``pair_id|element|rank``) and as a full TSV."""
    placed = table[table["start"] >= 0]
    bed = pd.DataFrame({"chrom": placed["chrom"], "start": placed["start"], "end": placed["end"],
                        "name": placed["pair_id"] + "|" + placed["element"] + "|" + placed["rank"].astype(str),
                        "score": placed["score"].round(6), "strand": "."})
    with atomic_path(Path(bed_path)) as tmp:
        bed.to_csv(tmp, sep="\t", header=False, index=False)
    with atomic_path(Path(tsv_path)) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")


def attention_maps(model: torch.nn.Module, store_path, indices, batch_size: int = 64,
                   device="cpu") -> dict:
    """Per-position attention of each side for store rows ``indices``.

    Returns
    -------
    dict
        ``enhancer``, ``promoter``: (N, n) and (N, m) attention at the model's resolution
        (EPIANN: row/column maxima of the attention matrices; EPIPAM: PAM position weights).
    """
    from epitools.training.sources import load_batch
    from epitools.io.store import PairStore

    if not getattr(model, "has_attention", False):
        raise UsageError(f"{type(model).__name__} has no attention maps (models with them: epiann, "
                         "epipam, epipdlf)")
    model = model.eval().to(device)
    out = {"enhancer": [], "promoter": []}
    indices = np.asarray(indices, np.int64)
    with PairStore(store_path) as store, torch.no_grad():
        for lo in range(0, indices.size, batch_size):
            batch = load_batch(store, indices[lo:lo + batch_size], device=device)
            res = model(batch["enhancer"], batch["promoter"], return_attention=True)
            for side in out:
                out[side].append(res[f"{side}_attention"].float().cpu().numpy())
    return {side: np.concatenate(v) for side, v in out.items()}


def _write_track(segments: pd.DataFrame, out: Path, name: str, label: str, chrom_sizes: dict) -> None:
    from epitools.io.tracks import write_bedgraph, write_bigwig

    write_bedgraph(segments, out / f"{name}.bedGraph", label)
    write_bigwig(segments, out / f"{name}.bw", chrom_sizes)


def write_tracks(out, chrom_sizes, *, attributions=None, model: torch.nn.Module | None = None,
                 store=None, width: int = 45, n_regions: int = 5, max_pairs: int | None = None,
                 rows: str = "all", device="cpu", seed: int = 0) -> Path:
    """Attribution and attention tracks and top regions into directory ``out`` (``epi-attribute tracks``).

    Parameters
    ----------
    out : path
        Gets ``<element>_attribution.{bedGraph,bw}`` from ``attributions``,
        ``<side>_attention.{bedGraph,bw}`` for both sides from ``model`` over ``store``, and
        ``<element>_top_regions.{bed,tsv}`` (attribution regions where there are some, else
        attention regions).
    chrom_sizes : dict or path
        Chromosome sizes, or a chrom.sizes / .fai / FASTA / 2bit file.
    attributions : path, optional
        ``attributions.npz`` of ``epi-attribute scores``.
    model, store : optional
        A model with attention maps and its pair store; store rows from
        :func:`epitools.interpret.attribution.select_rows` (``max_pairs``, ``rows``, ``seed``).
    width, n_regions : int
        Top regions per window (:func:`top_regions`).
    """
    from epitools.data.encoding import one_hot
    from epitools.interpret.attribution import load_attributions, select_rows, window_coordinates
    from epitools.io.store import PairStore
    from epitools.io.tracks import read_chrom_sizes

    if attributions is None and model is None:
        raise UsageError("give --attributions and/or --model with --data")
    if (model is None) != (store is None):
        raise UsageError("--model and --data go together")
    sizes = chrom_sizes if isinstance(chrom_sizes, dict) else read_chrom_sizes(chrom_sizes)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    explained = None
    if attributions is not None:
        attr = load_attributions(attributions)
        explained = attr.get("element", "enhancer")
        per_base = attr["scores"].sum(axis=1)
        seg = window_tracks(per_base, attr["chrom"], attr["window_start"], sizes, attr["reverse_complement"])
        _write_track(seg, out, f"{explained}_attribution", f"{explained} attribution", sizes)
        table = regions_table(per_base, attr["ohe"], attr, explained, "attribution", width, n_regions)
        write_regions(table, out / f"{explained}_top_regions.bed", out / f"{explained}_top_regions.tsv")
        log.info("%s attribution track of %d windows -> %s", explained, len(per_base), out)
    if model is None:
        return out
    with PairStore(store) as pairs:
        idx = select_rows(pairs, max_pairs, rows, seed)
        lengths = {s: int(pairs.attrs[f"{s}_length"]) for s in ("enhancer", "promoter")}
        meta = {s: {**window_coordinates(pairs, idx, s, lengths[s]),
                    **pairs.read(idx, fields=["pair_id", "label"])} for s in lengths}
        seqs = pairs.read(idx, fields=["enhancer", "promoter"]) if pairs.encoding == "onehot" else None
    maps = attention_maps(model, store, idx, device=device)
    for side, length in lengths.items():
        values = upsample(maps[side], length)
        seg = window_tracks(values, meta[side]["chrom"], meta[side]["window_start"], sizes,
                            meta[side]["reverse_complement"])
        _write_track(seg, out, f"{side}_attention", f"{side} attention", sizes)
        if side != explained:
            ohe = one_hot(seqs[side]) if seqs is not None else None
            meta[side]["pair_id"] = np.asarray(meta[side]["pair_id"]).astype(str)
            table = regions_table(values, ohe, meta[side], side, "attention", width, n_regions)
            write_regions(table, out / f"{side}_top_regions.bed", out / f"{side}_top_regions.tsv")
    log.info("attention tracks of %d pairs -> %s", len(idx), out)
    return out
