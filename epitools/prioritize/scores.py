"""Per gene–enhancer scores from an EPInformer model and a gene-level store.

For every filled slot of the store: the promoter-query attention (mean over heads and
layers, sum-normalised per gene), the ABC score (:func:`epitools.prioritize.abc.abc_score`
with activity sqrt(DNase x H3K27ac) and the stored contact), attention-ABC as the EPInformer
paper defines it (:func:`attention_abc_scores`: the attention of the **PE-Activity** model
times activity times contact, renormalised per gene), ``model_attention_abc`` (the same from
the scored model's own attention, e.g. the Hi-C variant's), the in-silico knockout (predicted
log expression with the enhancer masked minus the prediction with it), the distance, and
per-gene ranks of each.

Strictly held-out scores over all folds' models: :mod:`epitools.prioritize.held_out`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from epitools.data.gene_dataset import GeneDataset
from epitools.io.gene_store import GeneStore
from epitools.errors import UsageError
from epitools.prioritize.abc import abc_score
# The attention math is shared with epi-variants (epitools.regions.attention_abc); its names
# stay importable from here.
from epitools.regions.attention_abc import attention_abc_scores, attention_scores  # noqa: F401
from epitools.io.atomic import atomic_open
from epitools.progress import progress
from epitools.report.plots import save_figure

log = logging.getLogger(__name__)

# score column -> True when larger is more important (knockout: a larger drop is).
RANKED_SCORES = {"attention_abc": True, "abc": True, "attention": True, "knockout": False,
                 "distance": False, "model_attention_abc": True}
# The variant whose attention attention-ABC takes (Lin et al. 2024: EPInformer-PE-Activity).
ATTENTION_ABC_VARIANT = "PE-Activity"


@torch.no_grad()
def knockout_deltas(model, enhancer_embedding, promoter_embedding, enhancer_mask, features=None,
                    gene_features=None, max_batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Predicted change of log expression when each filled slot is masked out.

    Parameters
    ----------
    model : EPInformer (eval mode)
    enhancer_embedding : (B, M, d) tensor; promoter_embedding : (B, d) tensor
    enhancer_mask : (B, M) bool tensor
    features, gene_features : as for ``forward_embedded``
    max_batch : int
        Knockout variants scored per forward pass.

    Returns
    -------
    (deltas, prediction) : numpy arrays (B, M) and (B,)
        ``deltas`` = prediction without the enhancer - prediction with it (0 on empty slots).
    """
    full = model.forward_embedded(enhancer_embedding, promoter_embedding, enhancer_mask=enhancer_mask,
                                  features=features, gene_features=gene_features)["prediction"]
    deltas = torch.zeros(enhancer_mask.shape, dtype=full.dtype, device=full.device)
    genes, slots = torch.nonzero(enhancer_mask, as_tuple=True)
    for lo in range(0, genes.numel(), max_batch):
        g, s = genes[lo:lo + max_batch], slots[lo:lo + max_batch]
        mask = enhancer_mask[g].clone()
        mask[torch.arange(g.numel(), device=g.device), s] = False
        out = model.forward_embedded(
            enhancer_embedding[g], promoter_embedding[g], enhancer_mask=mask,
            features=None if features is None else features[g],
            gene_features=None if gene_features is None else gene_features[g])["prediction"]
        deltas[g, s] = out - full[g]
    return deltas.cpu().numpy().astype(np.float64), full.cpu().numpy().astype(np.float64)


def _ranks(df: pd.DataFrame) -> pd.DataFrame:
    for column, larger_first in RANKED_SCORES.items():
        df[f"rank_{column}"] = (df.groupby("gene", sort=False)[column]
                                .rank(method="min", ascending=not larger_first).astype(np.int64))
    return df


def gene_rows(table: pd.DataFrame, genes, path) -> np.ndarray:
    """Store rows of gene names ``genes`` (in their order) in a store's gene ``table``;
    a name not in it is a ``UsageError`` naming the store ``path``."""
    lookup = pd.Series(np.arange(len(table)), index=table["gene"])
    unknown = [g for g in genes if g not in lookup.index]
    if unknown:
        raise UsageError(f"gene(s) not in {path}: {', '.join(unknown[:10])}")
    return lookup.loc[list(genes)].to_numpy()


@torch.no_grad()
def _attention(model, dataset, indices, batch_size, device) -> np.ndarray:
    """Promoter-query attention (G, M) of ``model`` over store rows ``indices``."""
    model = model.to(device).eval()
    parts = []
    for lo in range(0, len(indices), batch_size):
        batch = {k: v.to(device) for k, v in dataset.batch(indices[lo:lo + batch_size]).items()}
        out = model(**batch)
        parts.append(attention_scores(out["attention"].cpu().numpy(), batch["enhancer_mask"].cpu().numpy()))
    return np.concatenate(parts)


@torch.no_grad()
def score_genes(model, store, genes=None, *, batch_size: int = 8, device=None,
                attention_model=None) -> pd.DataFrame:
    """Score every candidate enhancer of the store's genes.

    Parameters
    ----------
    model : EPInformer
        Trained model; put in eval mode here.
    store : path or GeneStore
        Gene-level store (its window length must match the model's).
    genes : list of str, optional
        Gene names to score (default: all); an unknown name is a ``UsageError``.
    batch_size : int
        Genes per forward pass.
    device : str or torch.device, optional
        Default: the model's device.
    attention_model : EPInformer, optional
        The PE-Activity model whose attention makes ``attention_abc`` (the paper's
        definition). Unset, ``model`` serves when it is that variant; otherwise ``model``'s own
        attention is used, with a warning.

    Returns
    -------
    pandas.DataFrame
        One row per gene–enhancer pair: ``gene chrom tss enhancer_name enhancer_chrom
        enhancer_start enhancer_end distance dnase h3k27ac contact activity abc attention
        attention_activity attention_abc model_attention_abc knockout prediction expression``
        and ``rank_<score>`` (1 = most important within the gene; knockout ranks the largest
        predicted drop first, distance the nearest). ``attention`` is ``model``'s,
        ``attention_activity`` the PE-Activity attention behind ``attention_abc``.
    """
    store = store if isinstance(store, GeneStore) else GeneStore(store)
    if int(store.attrs["enhancer_length"]) != model.enhancer_length:
        raise UsageError(f"store windows are {store.attrs['enhancer_length']} bp but the model was built "
                         f"for {model.enhancer_length} bp")
    table = store.genes()
    indices = np.arange(len(table)) if genes is None else gene_rows(table, genes, store.path)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(device).eval()
    dataset = GeneDataset(store, indices)
    if attention_model is not None and attention_model.enhancer_length != model.enhancer_length:
        raise UsageError(f"the attention model was built for {attention_model.enhancer_length} bp windows, "
                         f"the scored model for {model.enhancer_length} bp")
    source = attention_model if attention_model is not None else model
    if source.hparams["variant"] != ATTENTION_ABC_VARIANT:
        log.warning("attention_abc takes the attention of a %s model; the paper's takes a %s model's "
                    "(pass one as the attention model)", source.hparams["variant"], ATTENTION_ABC_VARIANT)
    parts = {k: [] for k in ("attention", "knockout", "prediction", "mask")}
    for lo in progress(range(0, len(indices), batch_size), desc="score genes", unit="batch"):
        rows = indices[lo:lo + batch_size]
        batch = {k: v.to(device) for k, v in dataset.batch(rows).items()}
        mask = batch["enhancer_mask"]
        e = model.embed_enhancer(batch["enhancers"], mask)
        p = model.embed_promoter(batch["promoter"])
        out = model.forward_embedded(e, p, enhancer_mask=mask, features=batch["features"],
                                     gene_features=batch["gene_features"])
        deltas, prediction = knockout_deltas(model, e, p, mask, batch["features"], batch["gene_features"])
        parts["attention"].append(out["attention"].cpu().numpy())
        parts["knockout"].append(deltas)
        parts["prediction"].append(prediction)
        parts["mask"].append(mask.cpu().numpy())
    if not len(indices):
        return _ranks(pd.DataFrame(columns=["gene", *RANKED_SCORES]))
    mask = np.concatenate(parts["mask"])
    attention = attention_scores(np.concatenate(parts["attention"]), mask)
    knockout = np.concatenate(parts["knockout"])
    prediction = np.concatenate(parts["prediction"])
    activity_attention = (attention if attention_model is None
                          else _attention(attention_model, dataset, indices, batch_size, device))

    candidates = store.candidates()
    position = pd.Series(np.arange(len(indices)), index=indices)
    candidates = candidates[candidates["gene_index"].isin(indices)].copy()
    row = position.loc[candidates["gene_index"]].to_numpy()
    slot = candidates["slot"].to_numpy()
    # ABC's activity: geometric mean of DNase and H3K27ac; contact as stored (ABC-normalised).
    candidates["activity"] = np.sqrt(candidates["dnase"] * candidates["h3k27ac"])
    candidates = abc_score(candidates, activity="activity", contact="contact", gene=("gene",),
                           self_promoters=False).drop(columns="abc_numerator")
    candidates = candidates.rename(columns={"abc_score": "abc"})
    candidates["abc"] = candidates["abc"].fillna(0.0)
    candidates["attention"] = attention[row, slot]
    candidates["attention_activity"] = activity_attention[row, slot]
    candidates["attention_abc"] = attention_abc_scores(candidates["attention_activity"], candidates["activity"],
                                                       candidates["contact"], candidates["gene_index"])
    candidates["model_attention_abc"] = attention_abc_scores(candidates["attention"], candidates["activity"],
                                                             candidates["contact"], candidates["gene_index"])
    candidates["knockout"] = knockout[row, slot]
    candidates["prediction"] = prediction[row]
    candidates["expression"] = table["expression"].to_numpy()[candidates["gene_index"].to_numpy()]
    candidates.insert(4, "enhancer_chrom", candidates["chrom"])
    # Keep the requested gene order, then slot (= distance) order.
    candidates["_order"] = row
    candidates = candidates.sort_values(["_order", "slot"], kind="stable").drop(columns="_order")
    log.info("scored %d candidate enhancers of %d genes", len(candidates), len(indices))
    return _ranks(candidates.reset_index(drop=True))


def planted_drivers(truth: dict) -> pd.DataFrame:
    """Planted drivers of an ``epi-simulate`` ``truth.json`` (parsed): one row per
    ``gene enhancer_name effect`` (effect: log-expression drop when the enhancer is removed)."""
    rows = [(gene, d["enhancer_id"], float(d["effect"])) for gene, info in truth["genes"].items()
            for d in info.get("drivers", [])]
    return pd.DataFrame(rows, columns=["gene", "enhancer_name", "effect"])


def driver_recovery(scores: pd.DataFrame, drivers: pd.DataFrame) -> dict:
    """How well each score finds known driver enhancers.

    Parameters
    ----------
    scores : DataFrame
        Output of :func:`score_genes`.
    drivers : DataFrame
        ``gene enhancer_name effect`` of the known drivers (e.g. :func:`planted_drivers`).

    Returns
    -------
    dict
        ``n_pairs``, ``n_drivers`` (drivers among the scored candidates), ``auprc`` per score
        over all scored pairs (knockout: the predicted drop; distance: nearest first) and
        ``knockout_effect_r``, the Pearson R of predicted drop and known effect over drivers;
        ``knockout_effect_r_all``, the same over every scored candidate, a non-driver's known
        effect being 0 (removing it changes nothing).
    """
    from epitools.training.metrics import auprc, pearson_r

    table = scores.merge(drivers[["gene", "enhancer_name", "effect"]], on=["gene", "enhancer_name"],
                         how="left")
    is_driver = table["effect"].notna().to_numpy()
    ranked = {"attention_abc": table["attention_abc"], "abc": table["abc"],
              "attention": table["attention"], "knockout": -table["knockout"],
              "distance": -table["distance"].astype(float)}
    hit = table[is_driver]
    return {"n_pairs": int(len(table)), "n_drivers": int(is_driver.sum()),
            "auprc": {name: round(auprc(is_driver, value), 4) for name, value in ranked.items()},
            "knockout_effect_r": round(pearson_r(-hit["knockout"], hit["effect"]), 4),
            "knockout_effect_r_all": round(pearson_r(-table["knockout"], table["effect"].fillna(0.0)), 4)}


def load_epinformer(path, device="auto"):
    """The EPInformer model of checkpoint ``path`` on ``device`` ("auto", "cpu", "cuda[:N]").

    A checkpoint of another model is a ``UsageError``: attention and knockout scores need
    EPInformer's promoter-query attention over enhancer slots.
    """
    from epitools.io.checkpoint import load_checkpoint
    from epitools.models.registry import model_from_checkpoint
    from epitools.training.device import resolve_device

    ckpt = load_checkpoint(path, encoding="onehot")
    if ckpt["model"] != "epinformer":
        raise UsageError(f"{path} is a '{ckpt['model']}' checkpoint; attention and knockout "
                         "scores need an EPInformer model")
    return model_from_checkpoint(ckpt, device=resolve_device(device))


def write_gene_scores(df: pd.DataFrame, out, plot_genes=()) -> Path:
    """``scores.tsv`` and ``locus_<gene>.png`` for each of ``plot_genes`` into directory ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_scores(df, out / "scores.tsv")
    for gene in plot_genes:
        plot_locus(df, gene, out / f"locus_{gene}.png")
    return out / "scores.tsv"


def write_scores(df: pd.DataFrame, path) -> None:
    """Write a scores table as TSV, atomically."""
    with atomic_open(path, "w") as fh:
        df.to_csv(fh, sep="\t", index=False, float_format="%.6g")


def plot_locus(df: pd.DataFrame, gene: str, path, truth=None) -> None:
    """PNG of one gene's locus: candidate enhancers, contact and each score along the genome.

    Parameters
    ----------
    df : DataFrame
        Output of :func:`score_genes`.
    gene : str
        Gene to draw; a ``UsageError`` when it has no rows.
    path : path
        PNG written atomically.
    truth : collection of str, optional
        Enhancer names to highlight (e.g. known drivers).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = df[df["gene"] == gene]
    if rows.empty:
        raise UsageError(f"gene {gene!r} has no scored candidate enhancers")
    tss = int(rows["tss"].iloc[0])
    centre = ((rows["enhancer_start"] + rows["enhancer_end"]) / 2 - tss) / 1000.0
    width = (rows["enhancer_end"] - rows["enhancer_start"]) / 1000.0
    highlight = rows["enhancer_name"].isin(set(truth or ()))
    colours = np.where(highlight, "tab:red", "tab:blue")
    panels = [("activity\nsqrt(DNase·H3K27ac)", np.sqrt(rows["dnase"] * rows["h3k27ac"])),
              ("contact", rows["contact"]), ("ABC", rows["abc"]), ("attention", rows["attention"]),
              ("attention-ABC", rows["attention_abc"]), ("knockout\nΔ log expr.", rows["knockout"])]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 1.6 * len(panels)), sharex=True)
    for ax, (label, values) in zip(axes, panels):
        ax.bar(centre, values, width=np.maximum(width, 0.4), color=colours)
        ax.axvline(0, color="black", lw=0.8, ls="--")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_ylabel(label, fontsize=8)
    axes[0].set_title(f"{gene} ({rows['chrom'].iloc[0]}:{tss:,}); TSS at 0"
                      + ("; red = known drivers" if highlight.any() else ""))
    axes[-1].set_xlabel("enhancer centre - TSS (kb)")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
