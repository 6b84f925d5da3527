"""Strictly held-out EPInformer scores: each gene scored by the fold model whose test
chromosomes hold it, in one call over all folds' runs (e.g. the 12 of ``--split chrom12``).

A run's test chromosomes come from the ``metrics.json`` that ``epi-train`` writes beside
its ``model.pt`` (:func:`run_test_chromosomes`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from epitools.data.splits import natural_key, strip_chr
from epitools.errors import UsageError
from epitools.io.gene_store import GeneStore
from epitools.prioritize.scores import gene_rows, score_genes

log = logging.getLogger(__name__)


def run_test_chromosomes(model_path) -> list[str]:
    """Test chromosomes of the training run that wrote checkpoint ``model_path``.

    Read from ``split_info.test_chroms`` of the ``metrics.json`` beside it (``epi-train``
    writes both into the run directory); a run without one is a ``UsageError``.
    """
    metrics = Path(model_path).with_name("metrics.json")
    try:
        info = json.loads(metrics.read_text()).get("split_info", {})
    except FileNotFoundError:
        raise UsageError(f"{metrics} not found: held-out scoring needs the run directory of each "
                         "--model (model.pt beside its metrics.json)") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{metrics} is not JSON: {exc}") from None
    chroms = info.get("test_chroms")
    if not chroms:
        raise UsageError(f"{metrics} names no test chromosomes (split {info.get('scheme')!r}); "
                         "held-out scoring needs runs split by chromosome (--split chrom12 or chrom)")
    return [str(c) for c in chroms]


@dataclass
class FoldModel:
    """One fold's EPInformer and the chromosomes it never trained on.

    ``attention_model`` (optional) is the same fold's PE-Activity model for attention-ABC.
    """

    name: str
    model: object
    test_chroms: list
    attention_model: object = None


def route_genes(chroms, folds: list[FoldModel]) -> np.ndarray:
    """Index into ``folds`` of the fold whose test chromosomes hold each gene; -1 for none.

    Parameters
    ----------
    chroms : array of str, shape (G,)
        Each gene's chromosome (``chr1`` and ``1`` match).
    folds : list of FoldModel

    A chromosome in two folds' test sets is a ``UsageError`` (the folds are not one scheme).
    """
    owner = {}
    for i, fold in enumerate(folds):
        for chrom in fold.test_chroms:
            key = strip_chr(chrom)
            if key in owner and owner[key] != i:
                raise UsageError(f"chromosome {chrom} is a test chromosome of both {folds[owner[key]].name} "
                                 f"and {fold.name}: give one run per fold of one split")
            owner[key] = i
    return np.array([owner.get(strip_chr(c), -1) for c in np.asarray(chroms)], dtype=np.int64)


def score_genes_held_out(folds: list[FoldModel], store, genes=None, *, batch_size: int = 8,
                         device=None) -> pd.DataFrame:
    """Score every gene with the fold model that held its chromosome out of training.

    Parameters
    ----------
    folds : list of FoldModel
        One per fold of a chromosome split (e.g. the 12 runs of ``--split chrom12``).
    store : path or GeneStore
    genes : list of str, optional
        Genes to score (default: every gene on some fold's test chromosomes); a requested
        gene on no fold's test chromosome is a ``UsageError``.
    batch_size, device : as for :func:`score_genes`

    Returns
    -------
    pandas.DataFrame
        :func:`score_genes`'s table in store gene order, plus ``fold_model`` (the fold's name).
    """
    if not folds:
        raise UsageError("no fold models given")
    store = store if isinstance(store, GeneStore) else GeneStore(store)
    table = store.genes()
    fold_of = route_genes(table["chrom"].to_numpy(), folds)
    if genes is not None:
        chosen = gene_rows(table, genes, store.path)
        unrouted = [table["gene"][i] for i in chosen if fold_of[i] < 0]
        if unrouted:
            raise UsageError(f"gene(s) on no fold's test chromosomes: {', '.join(unrouted[:10])}")
    else:
        chosen = np.flatnonzero(fold_of >= 0)
        left = sorted(set(table["chrom"][fold_of < 0]), key=natural_key)
        if left:
            log.warning("%d gene(s) on chromosomes no fold tests (%s) are not scored",
                        int((fold_of < 0).sum()), ", ".join(left))
    parts = []
    for i, fold in enumerate(folds):
        rows = chosen[fold_of[chosen] == i]
        if not rows.size:
            log.info("fold %s: no genes to score", fold.name)
            continue
        df = score_genes(fold.model, store, genes=list(table["gene"].to_numpy()[rows]), batch_size=batch_size,
                         device=device, attention_model=fold.attention_model)
        parts.append(df.assign(fold_model=fold.name))
    if not parts:
        return score_genes(folds[0].model, store, genes=[], batch_size=batch_size).assign(fold_model="")
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["gene_index", "slot"], kind="stable", ignore_index=True)
    log.info("held-out scores: %d genes over %d fold models", out["gene"].nunique(), len(parts))
    return out


def run_checkpoints(runs_dir) -> list[Path]:
    """Every ``model.pt`` under ``runs_dir`` (one per run directory), sorted by path."""
    found = sorted(Path(runs_dir).rglob("model.pt"))
    if not found:
        raise UsageError(f"no model.pt under {runs_dir}")
    return found


def load_fold_models(model_paths, attention_paths=(), device="auto") -> list[FoldModel]:
    """A :class:`FoldModel` per checkpoint, named by its run directory.

    Parameters
    ----------
    model_paths : list of path
        EPInformer checkpoints, each in its run directory (beside ``metrics.json``).
    attention_paths : list of path
        PE-Activity checkpoints for attention-ABC, each matched to the model whose run
        tested the same chromosomes; one without a match is a ``UsageError``.
    device : str
    """
    from epitools.prioritize.scores import load_epinformer

    folds = [FoldModel(name=Path(p).parent.name or str(p), model=load_epinformer(p, device),
                       test_chroms=run_test_chromosomes(p)) for p in model_paths]
    by_chroms = {frozenset(map(strip_chr, f.test_chroms)): f for f in folds}
    for path in attention_paths:
        fold = by_chroms.get(frozenset(map(strip_chr, run_test_chromosomes(path))))
        if fold is None:
            raise UsageError(f"attention model {path} tests chromosomes no --model's run tests")
        fold.attention_model = load_epinformer(path, device)
    return folds
