"""Motifs from attributions (TF-MoDISco-lite) and from first-layer filters, matched to JASPAR.

``run_modisco`` clusters high-attribution seqlets into patterns (``modisco.h5``);
``read_patterns`` reads them back as ``(4, L)`` matrices; ``match_motifs`` compares any
set of probability matrices with JASPAR 2024 CORE vertebrates using memelite's Tomtom
(p-values per target, q-values by Benjamini–Hochberg over each query's targets);
``filter_ppms`` turns first-layer convolution filters into PWMs from the windows that
activate them (what EPIPAM and EPIPDLF report); ``logo`` and ``write_html`` draw them.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from epitools.errors import InputError, UsageError
from epitools.io.atomic import atomic_path, write_text
from epitools.interpret.jaspar import MotifDatabase, load_jaspar
from epitools.report.plots import save_figure

log = logging.getLogger(__name__)


@dataclass
class Pattern:
    """One TF-MoDISco pattern: ``ppm``, ``cwm`` (contributions) and ``hcwm`` are ``(4, L)``."""

    name: str
    metacluster: str
    ppm: np.ndarray
    cwm: np.ndarray
    hcwm: np.ndarray
    n_seqlets: int

    def trimmed(self, threshold: float = 0.3) -> "Pattern":
        """Cut flanks whose total |contribution| is below ``threshold`` x the peak column's."""
        score = np.abs(self.cwm).sum(0)
        keep = np.flatnonzero(score >= threshold * score.max())
        lo, hi = (keep.min(), keep.max() + 1) if keep.size else (0, self.ppm.shape[1])
        return Pattern(self.name, self.metacluster, self.ppm[:, lo:hi], self.cwm[:, lo:hi],
                       self.hcwm[:, lo:hi], self.n_seqlets)


# --------------------------------------------------------------------------- modisco
def run_modisco(ohe: np.ndarray, hyp_scores: np.ndarray, out, *, max_seqlets: int = 2000,
                window: int = 21, flank: int = 10, min_metacluster_size: int = 50,
                final_min_cluster_size: int = 20, n_leiden_runs: int = 10) -> dict:
    """TF-MoDISco-lite on (N, 4, L) one-hot and hypothetical contributions → ``modisco.h5``.

    Returns
    -------
    dict
        ``positive``, ``negative``: number of patterns per metacluster.
    """
    import modiscolite
    from modiscolite.io import save_hdf5

    ohe = np.ascontiguousarray(np.transpose(ohe, (0, 2, 1)), dtype=np.float32)
    hyp = np.ascontiguousarray(np.transpose(hyp_scores, (0, 2, 1)), dtype=np.float32)
    if ohe.shape[1] < window + 2 * flank:
        raise UsageError(f"windows of {ohe.shape[1]} bp are shorter than a seqlet "
                         f"({window} + 2 x {flank} bp)")
    pos, neg = modiscolite.tfmodisco.TFMoDISco(
        one_hot=ohe, hypothetical_contribs=hyp, sliding_window_size=window, flank_size=flank,
        max_seqlets_per_metacluster=max_seqlets, min_metacluster_size=min_metacluster_size,
        final_min_cluster_size=final_min_cluster_size, n_leiden_runs=n_leiden_runs)
    with atomic_path(out) as tmp:
        save_hdf5(tmp, pos, neg, window)
    counts = {"positive": len(pos or []), "negative": len(neg or [])}
    log.info("TF-MoDISco-lite: %d positive and %d negative patterns from %d sequences",
             counts["positive"], counts["negative"], ohe.shape[0])
    return counts


def read_patterns(path) -> list[Pattern]:
    """Patterns of a ``modisco.h5`` (positive first), matrices transposed to ``(4, L)``."""
    import h5py

    path = Path(path)
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"cannot open TF-MoDISco results: {exc}", path=path) from exc
    out = []
    with h5:
        for group, label in (("pos_patterns", "pos"), ("neg_patterns", "neg")):
            if group not in h5:
                continue
            names = sorted(h5[group].keys(), key=lambda s: int(s.split("_")[-1]))
            for name in names:
                g = h5[group][name]
                out.append(Pattern(name=f"{label}_{name}", metacluster=label,
                                   ppm=np.asarray(g["sequence"][:]).T,
                                   cwm=np.asarray(g["contrib_scores"][:]).T,
                                   hcwm=np.asarray(g["hypothetical_contribs"][:]).T,
                                   n_seqlets=int(g["seqlets"]["n_seqlets"][0])))
    return out


# --------------------------------------------------------------------------- tomtom
def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH q-values along the last axis (any shape; NaN stays NaN)."""
    p = np.asarray(p, dtype=np.float64)
    flat = p.reshape(-1, p.shape[-1]) if p.ndim else p.reshape(1, 1)
    q = np.full_like(flat, np.nan)
    for r in range(flat.shape[0]):  # one vectorised pass per query row
        ok = np.flatnonzero(np.isfinite(flat[r]))
        if not ok.size:
            continue
        order = ok[np.argsort(flat[r, ok], kind="stable")]
        m = ok.size
        scaled = flat[r, order] * m / np.arange(1, m + 1)
        q[r, order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return q.reshape(p.shape)


def match_motifs(ppms: list, names: list, db: MotifDatabase | None = None, top: int = 3) -> pd.DataFrame:
    """Tomtom matches of each query ``(4, L)`` probability matrix against ``db``.

    Returns
    -------
    pandas.DataFrame
        One row per (query, rank): ``pattern rank jaspar_id tf p_value q_value strand offset``;
        ``strand`` is ``+`` or ``-`` (target reverse-complemented).
    """
    from memelite import tomtom

    db = db or load_jaspar()
    if not len(ppms):
        return pd.DataFrame(columns=["pattern", "rank", "jaspar_id", "tf", "p_value", "q_value",
                                     "strand", "offset"])
    queries = [np.asarray(p, dtype=np.float64) for p in ppms]
    p, _, offsets, _, strands = tomtom(queries, [np.asarray(t, np.float64) for t in db.ppms],
                                       n_jobs=1)
    q = benjamini_hochberg(p)
    rows = []
    for i, name in enumerate(names):
        order = np.argsort(p[i], kind="stable")[:top]
        for rank, j in enumerate(order, start=1):
            rows.append({"pattern": name, "rank": rank, "jaspar_id": db.ids[j], "tf": db.names[j],
                         "p_value": float(p[i, j]), "q_value": float(q[i, j]),
                         "strand": "-" if strands[i, j] else "+", "offset": int(offsets[i, j])})
    return pd.DataFrame(rows)


def motifs_table(patterns: list[Pattern], matches: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """One row per pattern: sign, seqlets, length and its ``top`` matches side by side."""
    rows = []
    for pat in patterns:
        row = {"pattern": pat.name, "strand": "+" if pat.metacluster == "pos" else "-",
               "n_seqlets": pat.n_seqlets, "length": pat.ppm.shape[1],
               "consensus": "".join("ACGT"[i] for i in pat.ppm.argmax(0))}
        sub = matches[matches["pattern"] == pat.name].sort_values("rank")
        for r in range(1, top + 1):
            hit = sub[sub["rank"] == r]
            has = len(hit) > 0
            row[f"match{r}_id"] = hit["jaspar_id"].iloc[0] if has else ""
            row[f"match{r}_tf"] = hit["tf"].iloc[0] if has else ""
            row[f"match{r}_p"] = float(hit["p_value"].iloc[0]) if has else np.nan
            row[f"match{r}_q"] = float(hit["q_value"].iloc[0]) if has else np.nan
            row[f"match{r}_strand"] = hit["strand"].iloc[0] if has else ""
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- logos
def information_content(ppm: np.ndarray, background=(0.25, 0.25, 0.25, 0.25)) -> np.ndarray:
    """``(4, L)`` letter heights: probability x column information (bits)."""
    ppm = np.clip(np.asarray(ppm, np.float64), 1e-9, 1)
    ppm = ppm / ppm.sum(0, keepdims=True)
    bg = np.asarray(background)[:, None]
    ic = (ppm * np.log2(ppm / bg)).sum(0, keepdims=True)
    return ppm * ic


def logo(matrix: np.ndarray, path, title: str = "", ylabel: str = "") -> Path:
    """Draw a ``(4, L)`` matrix as a sequence logo PNG (written atomically)."""
    import logomaker
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.DataFrame(np.asarray(matrix, np.float64).T, columns=list("ACGT"))
    fig, ax = plt.subplots(figsize=(max(3.0, 0.3 * len(frame)), 1.8))
    try:
        logomaker.Logo(frame, ax=ax, color_scheme="classic")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
    except BaseException:
        plt.close(fig)
        raise
    return save_figure(fig, Path(path), dpi=90)


def pattern_logos(patterns: list[Pattern], out_dir) -> dict:
    """Contribution (CWM) and information-content logos per pattern → ``{name: (cwm, ic)}``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for pat in patterns:
        cwm = logo(pat.cwm, out_dir / f"{pat.name}.cwm.png", f"{pat.name} contribution", "contribution")
        ic = logo(information_content(pat.ppm), out_dir / f"{pat.name}.ic.png",
                  f"{pat.name} ({pat.n_seqlets} seqlets)", "bits")
        paths[pat.name] = (cwm, ic)
    return paths


def write_html(table: pd.DataFrame, logos: dict, path, title: str = "epitools motifs",
               top: int = 3) -> Path:
    """A page listing each pattern with its logos and JASPAR matches."""
    path = Path(path)
    rows = []
    for rec in table.to_dict("records"):
        cwm, ic = logos.get(rec["pattern"], (None, None))
        imgs = "".join(f'<img src="{html.escape(str(Path(p).relative_to(path.parent)))}" height="70">'
                       for p in (cwm, ic) if p is not None)
        matches = "<br>".join(
            f"{html.escape(str(rec[f'match{r}_id']))} {html.escape(str(rec[f'match{r}_tf']))} "
            f"(p={rec[f'match{r}_p']:.2g}, q={rec[f'match{r}_q']:.2g}, {rec[f'match{r}_strand']})"
            for r in range(1, top + 1) if rec.get(f"match{r}_id"))
        rows.append(f"<tr><td>{html.escape(rec['pattern'])}</td><td>{rec['strand']}</td>"
                    f"<td>{rec['n_seqlets']}</td><td>{html.escape(rec['consensus'])}</td>"
                    f"<td>{imgs}</td><td>{matches}</td></tr>")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif}td,th{border-bottom:1px solid #ccc;padding:4px;"
            "vertical-align:middle}table{border-collapse:collapse}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{len(table)} patterns; matches: Tomtom (memelite) "
            "against JASPAR 2024 CORE vertebrates (non-redundant).</p><table><tr><th>pattern</th>"
            "<th>sign</th><th>seqlets</th><th>consensus</th><th>logos (contribution, "
            "information)</th><th>best matches</th></tr>" + "".join(rows) + "</table></body></html>")
    write_text(path, page)
    return path


# --------------------------------------------------------------------------- filters
def _first_conv(model: torch.nn.Module, embed, x: torch.Tensor):
    """The first Conv1d that ``embed(x)`` runs and its output activations (N, F, T)."""
    seen = []

    def hook(module, inputs, output):
        if not seen:
            seen.append((module, output.detach()))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv1d)]
    try:
        with torch.no_grad():
            embed(x)
    finally:
        for h in handles:
            h.remove()
    if not seen:
        raise UsageError(f"{type(model).__name__} has no convolution layer to read filters from")
    return seen[0]


def _left_padding(conv: torch.nn.Conv1d) -> int:
    kernel = conv.kernel_size[0] * conv.dilation[0] - conv.dilation[0] + 1
    if conv.padding == "same":
        return (kernel - 1) // 2
    if conv.padding == "valid":
        return 0
    return int(conv.padding[0])


def filter_ppms(model: torch.nn.Module, codes: np.ndarray, element: str = "enhancer",
                threshold: float = 0.5, pseudocount: float = 0.1, batch_size: int = 256) -> dict:
    """First-layer filters as probability matrices from the windows that activate them.

    For each filter, every position whose activation exceeds ``threshold`` x the filter's
    maximum over all sequences contributes its input window (one-hot counts). For k-mer
    models a token position covers ``k`` bases, so windows are ``kernel + k - 1`` wide.

    Parameters
    ----------
    model : nn.Module
        Pair model with ``embed_enhancer`` / ``embed_promoter``.
    codes : numpy.ndarray
        Base codes (N, L) uint8 of the element's windows.

    Returns
    -------
    dict
        ``ppms`` list of (4, W) arrays, ``n_sites`` (F,) int, ``names`` list of str.
    """
    from epitools.data.encoding import kmer_ids, one_hot

    codes = np.asarray(codes, dtype=np.uint8)
    k = int(model.hparams["k"]) if getattr(model, "encoding", "onehot") == "kmer" else 1
    embed = model.embed_enhancer if element == "enhancer" else model.embed_promoter
    model = model.eval()
    acts, conv = [], None
    for lo in range(0, len(codes), batch_size):
        chunk = codes[lo:lo + batch_size]
        x = (torch.from_numpy(kmer_ids(chunk, k).astype(np.int64)) if k > 1
             else torch.from_numpy(one_hot(chunk)))
        conv, a = _first_conv(model, embed, x)
        acts.append(a.float().numpy())
    act = np.concatenate(acts)                                   # (N, F, T)
    kernel = conv.kernel_size[0] * conv.dilation[0] - conv.dilation[0] + 1
    width = kernel + k - 1
    left = _left_padding(conv)
    padded = np.pad(codes, ((0, 0), (width, width)), constant_values=4)
    hot = one_hot(padded)                                        # (N, 4, L + 2W)
    ppms, n_sites = [], []
    peak = act.max(axis=(0, 2))
    for f in range(act.shape[1]):
        if peak[f] <= 0:
            ppms.append(np.full((4, width), 0.25))
            n_sites.append(0)
            continue
        seq, pos = np.nonzero(act[:, f] > threshold * peak[f])
        start = pos - left + width                               # into the padded array
        cols = start[:, None] + np.arange(width)[None, :]
        counts = hot[seq[:, None], :, cols].sum(0).T             # (4, W)
        counts = counts + pseudocount
        ppms.append(counts / counts.sum(0, keepdims=True))
        n_sites.append(int(seq.size))
    return {"ppms": ppms, "n_sites": np.array(n_sites), "names": [f"filter_{f}" for f in range(len(ppms))]}


def write_meme(ppms: list, names: list, path) -> Path:
    """Probability matrices as a minimal MEME motif file."""
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "",
             "Background letter frequencies", "A 0.25 C 0.25 G 0.25 T 0.25", ""]
    for name, ppm in zip(names, ppms):
        ppm = np.asarray(ppm)
        lines += [f"MOTIF {name}", f"letter-probability matrix: alength= 4 w= {ppm.shape[1]}"]
        lines += [" ".join(f"{v:.4f}" for v in col) for col in ppm.T]
        lines.append("")
    write_text(Path(path), "\n".join(lines))
    return Path(path)


# --------------------------------------------------------------------------- whole steps
def discover_motifs(attributions, out, *, max_seqlets: int = 2000, window: int = 21, flank: int = 10,
                    min_metacluster_size: int = 50, final_min_cluster_size: int = 20,
                    top: int = 3) -> pd.DataFrame:
    """TF-MoDISco-lite patterns of ``attributions.npz`` matched to JASPAR, into directory ``out``.

    Writes ``modisco.h5``, ``motifs.tsv`` (:func:`motifs_table`), ``logos/`` and
    ``motifs.html``; returns the motifs table (one row per pattern).
    """
    from epitools.interpret.attribution import load_attributions

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    attr = load_attributions(attributions)
    run_modisco(attr["ohe"], attr["hyp_scores"], out / "modisco.h5", max_seqlets=max_seqlets,
                window=window, flank=flank, min_metacluster_size=min_metacluster_size,
                final_min_cluster_size=final_min_cluster_size)
    trimmed = [p.trimmed() for p in read_patterns(out / "modisco.h5")]
    matches = match_motifs([p.ppm for p in trimmed], [p.name for p in trimmed], top=top)
    table = motifs_table(trimmed, matches, top=top)
    with atomic_path(out / "motifs.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4g")
    write_html(table, pattern_logos(trimmed, out / "logos"), out / "motifs.html", top=top)
    return table


def filter_motifs(model: torch.nn.Module, store, out, *, element: str = "enhancer",
                  max_pairs: int | None = 2000, top: int = 3) -> pd.DataFrame:
    """First-layer filters of ``model`` as PWMs from ``max_pairs`` windows of pair ``store``,
    matched to JASPAR, into ``out/filters.tsv`` and ``out/filters.meme``.

    Returns
    -------
    pandas.DataFrame
        One row per filter with sites: ``filter n_sites match<r>_{jaspar_id,tf,q_value}``.
    """
    from epitools.data.encoding import kmer_ids_to_codes
    from epitools.interpret.attribution import select_rows
    from epitools.io.store import PairStore

    if getattr(model, "task", "pairs") != "pairs":
        raise UsageError(f"first-layer filters are read from pair models; {type(model).__name__} is not "
                         "one (its attributions run through epi-attribute motifs without --model)")
    with PairStore(store) as pairs:
        codes = pairs.read(select_rows(pairs, max_pairs, rows="all"), fields=[element])[element]
    if getattr(model, "encoding", "onehot") == "kmer":
        codes = kmer_ids_to_codes(codes, int(model.hparams["k"]))
    result = filter_ppms(model, codes, element=element)
    used = [i for i, n in enumerate(result["n_sites"]) if n > 0]
    ppms, names = [result["ppms"][i] for i in used], [result["names"][i] for i in used]
    if used:
        matches = match_motifs(ppms, names, top=top)
        table = matches.pivot_table(index="pattern", columns="rank", values=["jaspar_id", "tf", "q_value"],
                                    aggfunc="first")
        table.columns = [f"match{r}_{c}" for c, r in table.columns]
        table = table.reset_index().rename(columns={"pattern": "filter"})
        table.insert(1, "n_sites", np.asarray(result["n_sites"])[[int(f.split("_")[1]) for f in table["filter"]]])
    else:
        log.warning("no first-layer filter of %s is activated by the %d windows: nothing to match",
                    type(model).__name__, len(codes))
        table = pd.DataFrame({"filter": pd.Series(dtype=str), "n_sites": pd.Series(dtype=np.int64)})
    Path(out).mkdir(parents=True, exist_ok=True)
    with atomic_path(Path(out) / "filters.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4g")
    write_meme(ppms, names, Path(out) / "filters.meme")
    log.info("%d first-layer filters -> %s", len(used), Path(out) / "filters.tsv")
    return table
