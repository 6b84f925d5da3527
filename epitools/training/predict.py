"""Scoring pairs (and genes) with a trained checkpoint, with an element cache.

**Element cache.** Candidate sets repeat elements: one promoter is paired with every enhancer
near it and one enhancer with several promoters. With the cache on, each distinct enhancer
and promoter window of a chunk goes through the per-element part of the network once
(``embed_enhancer`` / ``embed_promoter``) and only the interaction part
(``forward_embedded``) runs per pair. Distinct windows are found by their content (base
codes or k-mer ids), so the cache is exact: scores equal the uncached ones up to float
rounding. Memory is bounded by ``chunk_size`` pairs and their embeddings.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from epitools import __version__
from epitools.data.encoding import one_hot
from epitools.data.windows import Geometry, check_elements, has_inline_sequences, pair_windows
from epitools.errors import UsageError
from epitools.io.atomic import atomic_open, write_text
from epitools.io.checkpoint import load_checkpoint
from epitools.io.genome import compare_genomes, genome_identity
from epitools.models.registry import model_from_checkpoint
from epitools.progress import progress
from epitools.training.device import resolve_device
from epitools.training.sources import EXTRA_FIELDS, order_pair_columns, store_kind

log = logging.getLogger(__name__)


def unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a 2-d array by content.

    Returns
    -------
    first : np.ndarray, shape (u,)
        Index of one occurrence of each distinct row.
    inverse : np.ndarray, shape (n,)
        For each row, its position in ``first``.
    """
    a = np.ascontiguousarray(a)
    keys = a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first, inverse.ravel()


def _inputs(codes: np.ndarray, encoding: str, device) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(codes)).to(device)
    return one_hot(x) if encoding == "onehot" else x.long()


def _logits(out: dict) -> torch.Tensor:
    return out["logit"].float()


@torch.no_grad()
def _embed_all(embed, rows: np.ndarray, encoding: str, device, batch_size: int) -> torch.Tensor:
    parts = [embed(_inputs(rows[i:i + batch_size], encoding, device))
             for i in range(0, len(rows), batch_size)]
    return torch.cat(parts, dim=0)


@torch.no_grad()
def score_pairs(model, enhancer: np.ndarray, promoter: np.ndarray, encoding: str, device="cpu",
                batch_size: int = 256, element_cache: bool = True, extras: dict | None = None) -> np.ndarray:
    """Interaction probabilities of pairs of encoded windows.

    Parameters
    ----------
    model : PairModel
        In eval mode, on ``device``.
    enhancer, promoter : np.ndarray
        Base codes (n, L) uint8 (``encoding="onehot"``) or k-mer ids (n, L-k+1).
    element_cache : bool
        Embed each distinct window once and run only ``forward_embedded`` per pair.
    extras : dict of np.ndarray, optional
        Per-pair keyword inputs of the model (e.g. ``enhancer_signal`` (n, bins, tracks)).

    Returns
    -------
    np.ndarray, shape (n,), float64
    """
    n = len(enhancer)
    scores = np.empty(n, dtype=np.float64)
    extras = extras or {}

    def extra(lo):
        return {k: torch.from_numpy(np.asarray(v[lo:lo + batch_size], dtype=np.float32)).to(device)
                for k, v in extras.items()}

    if not element_cache:
        for lo in range(0, n, batch_size):
            out = model(_inputs(enhancer[lo:lo + batch_size], encoding, device),
                        _inputs(promoter[lo:lo + batch_size], encoding, device), **extra(lo))
            scores[lo:lo + batch_size] = torch.sigmoid(_logits(out)).cpu().numpy()
        return scores
    e_first, e_inv = unique_rows(enhancer)
    p_first, p_inv = unique_rows(promoter)
    e_emb = _embed_all(model.embed_enhancer, enhancer[e_first], encoding, device, batch_size)
    p_emb = _embed_all(model.embed_promoter, promoter[p_first], encoding, device, batch_size)
    return score_embedded(model, e_emb, p_emb, e_inv, p_inv, device, batch_size, extras)


@torch.no_grad()
def score_embedded(model, e_emb: torch.Tensor, p_emb: torch.Tensor, e_inv: np.ndarray, p_inv: np.ndarray,
                   device="cpu", batch_size: int = 256, extras: dict | None = None) -> np.ndarray:
    """Interaction probabilities from element embeddings: pair i is (``e_emb[e_inv[i]]``,
    ``p_emb[p_inv[i]]``); only ``forward_embedded`` runs. Returns (n,) float64."""
    n = len(e_inv)
    scores = np.empty(n, dtype=np.float64)
    extras = extras or {}
    e_inv = torch.from_numpy(np.asarray(e_inv, dtype=np.int64)).to(device)
    p_inv = torch.from_numpy(np.asarray(p_inv, dtype=np.int64)).to(device)
    for lo in range(0, n, batch_size):
        batch_extras = {k: torch.from_numpy(np.asarray(v[lo:lo + batch_size], dtype=np.float32)).to(device)
                        for k, v in extras.items()}
        out = model.forward_embedded(e_emb[e_inv[lo:lo + batch_size]], p_emb[p_inv[lo:lo + batch_size]],
                                     **batch_extras)
        scores[lo:lo + batch_size] = torch.sigmoid(_logits(out)).cpu().numpy()
    return scores


class Predictor:
    """A checkpoint ready to score: model on its device plus what the output table records.

    Parameters
    ----------
    checkpoint : path
        ``model.pt`` from ``epi-train``.
    device : str
        ``auto``, ``cpu``, ``cuda``...
    """

    def __init__(self, checkpoint, device: str = "auto", batch_size: int = 256,
                 element_cache: bool = True, allow_genome_mismatch: bool = False):
        self.ckpt = load_checkpoint(checkpoint)
        self.path = Path(checkpoint)
        self.device = resolve_device(device)
        self.model = model_from_checkpoint(self.ckpt, self.device)
        self.encoding = self.ckpt["encoding"]
        self.task = getattr(self.model, "task", "pairs")
        self.hparams = self.model.hparams
        # pair models read windows of the geometry they were built with; gene models read stores
        self.geometry = (Geometry.from_attrs({**self.hparams, "encoding": self.encoding})
                         if self.task == "pairs" else None)
        self.batch_size = batch_size
        self.element_cache = element_cache
        self.fold = self.ckpt["provenance"].get("fold")
        self.name = self.ckpt["model"]
        self.allow_genome_mismatch = allow_genome_mismatch
        self.genome_check: dict = {"genome_match": "unknown"}
        if element_cache and not hasattr(self.model, "forward_embedded"):
            log.info("model %s has no element split; scoring without the cache", self.name)
            self.element_cache = False

    def check_encoding(self, encoding: str, source) -> None:
        from epitools.io.checkpoint import check_encoding

        check_encoding(self.ckpt, encoding, source)

    def check_genome(self, found: dict | None) -> dict:
        """Compare the genome the data come from with the one the model was trained on
        (:func:`epitools.io.genome.compare_genomes`); the result goes into the provenance."""
        trained = genome_identity(self.ckpt["provenance"].get("store_attrs", {}), source=self.path)
        self.genome_check = compare_genomes(trained, found, allow_mismatch=self.allow_genome_mismatch)
        return self.genome_check

    def provenance(self, source) -> dict:
        """What a predictions table's ``.json`` sidecar records."""
        return {"model": os.fspath(self.path), "model_name": self.name, "fold": self.fold,
                "input": os.fspath(source), "allow_genome_mismatch": self.allow_genome_mismatch,
                **self.genome_check, "tool_version": __version__}

    def score(self, enhancer: np.ndarray, promoter: np.ndarray, extras: dict | None = None) -> np.ndarray:
        """Probabilities of encoded pairs (see :func:`score_pairs`)."""
        return score_pairs(self.model, enhancer, promoter, self.encoding, self.device, self.batch_size,
                           self.element_cache, extras)

    def annotate(self, table: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
        table = table.copy()
        table["score"] = scores
        table["model"] = self.name
        if self.fold is not None:
            table["fold"] = self.fold
        return table


class _TableWriter:
    """Append chunks of a table to one TSV, written atomically on close."""

    def __init__(self, path):
        self._ctx = atomic_open(path, "w")
        self.fh = self._ctx.__enter__()
        self.header = True
        self.rows = 0

    def write(self, table: pd.DataFrame) -> None:
        table.to_csv(self.fh, sep="\t", index=False, header=self.header)
        self.header = False
        self.rows += len(table)

    def close(self, exc=None) -> None:
        if exc is None:
            self._ctx.__exit__(None, None, None)
        else:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)


def write_provenance(out, provenance: dict) -> None:
    """The ``<out>.json`` sidecar of a predictions table."""
    write_text(f"{out}.json", json.dumps(provenance, indent=2, default=str) + "\n")


def _write_chunks(out, chunks) -> int:
    writer = _TableWriter(out)
    try:
        for table in chunks:
            writer.write(table)
    except BaseException as exc:
        writer.close(exc)
        raise
    writer.close()
    return writer.rows


def predict_store(predictor: Predictor, store_path, out, chunk_size: int = 8192,
                  all_rows: bool = False) -> int:
    """Score the rows of an encoded store and write the predictions table.

    Augmented rows (shifted or reverse-complemented copies) are skipped unless ``all_rows``.
    Returns the number of rows written.
    """
    if store_kind(store_path) == "genes":
        return predict_gene_store(predictor, store_path, out, chunk_size)
    from epitools.io.store import open_store

    if predictor.task != "pairs":
        raise UsageError(f"model '{predictor.name}' scores genes but {store_path} is a pair store")
    store = open_store(store_path)
    try:
        predictor.check_encoding(store.encoding, store_path)
        predictor.check_genome(genome_identity(store.attrs, source=store_path))
        n = len(store)
        rows = np.arange(n)
        if not all_rows:
            meta = store.read(None, fields=[f for f in ("enhancer_shift", "promoter_shift",
                                                        "reverse_complement") if f in store.fields])
            augmented = np.zeros(n, dtype=bool)
            for value in meta.values():
                augmented |= value.astype(bool)
            rows = rows[~augmented]
        table = order_pair_columns(store.pairs_table())
        extra_fields = [f for f in EXTRA_FIELDS if f in store.fields]

        def chunks():
            bounds = range(0, len(rows), chunk_size)
            for lo in progress(bounds, total=len(bounds), desc="predict", unit="chunk"):
                idx = rows[lo:lo + chunk_size]
                data = store.read(idx, fields=["enhancer", "promoter", *extra_fields])
                extras = {k: data[k] for k in extra_fields}
                scores = predictor.score(data["enhancer"], data["promoter"], extras)
                yield predictor.annotate(table.iloc[idx].reset_index(drop=True), scores)

        written = _write_chunks(out, chunks())
        write_provenance(out, predictor.provenance(store_path))
    finally:
        store.close()
    log.info("scored %d pairs from %s with %s -> %s", written, store_path, predictor.name, out)
    return written


def _checked(chunks, genome, source):
    """The chunks, after checking each names only chromosomes of the genome (record numbers in errors)."""
    offset = 0
    for chunk in progress(chunks, desc="index", unit="chunk"):
        check_elements(genome, chunk, source, offset)
        offset += len(chunk)
        yield chunk


def predict_pairs(predictor: Predictor, pairs_path, genome_path, out, chunk_size: int = 8192,
                  cache_mb: float = 2048, cache_dir=None) -> int:
    """Score a pair table, encoding windows on the fly (bounded memory).

    With the element cache (and genome coordinates) the table is read twice: once to index
    its distinct windows, which are embedded once each (:mod:`epitools.training.element_cache`;
    embeddings beyond ``cache_mb`` MiB go to a memory-mapped file in ``cache_dir``), then to
    score it chunk by chunk through the interaction part only. Tables with inline sequences,
    or without the cache, are encoded and scored ``chunk_size`` pairs at a time.
    """
    from epitools.io.pairs import iter_pairs
    from epitools.training.element_cache import embed_windows, index_windows

    if predictor.task != "pairs":
        raise UsageError(f"model '{predictor.name}' scores genes; give it a gene store with --data")
    if cache_mb <= 0:
        raise UsageError(f"--cache-mb must be positive, got {cache_mb}")
    genome = None
    if genome_path is not None:
        from epitools.io.genome import Genome

        genome = Genome(genome_path)
        try:
            predictor.check_genome({**genome.identity(), "source": os.fspath(genome_path)})
        except BaseException:
            genome.close()
            raise
    geometry = predictor.geometry
    padded = 0
    caches = []

    def table_chunks():
        return iter_pairs(pairs_path, chunksize=chunk_size)

    def plain_chunks():
        nonlocal padded
        for chunk in progress(table_chunks(), desc="predict", unit="chunk"):
            windows = pair_windows(chunk, geometry, genome)
            padded += windows["padded_windows"]
            yield predictor.annotate(chunk.drop(columns=[c for c in ("enhancer_seq", "promoter_seq")
                                                         if c in chunk]),
                                     predictor.score(windows["enhancer"], windows["promoter"]))

    def cached_chunks(index):
        nonlocal padded
        model = predictor.model
        embedded = {}
        for side, embed, length in (("enhancer", model.embed_enhancer, geometry.enhancer_length),
                                    ("promoter", model.embed_promoter, geometry.promoter_length)):
            cache, pad = embed_windows(embed, index[side], length, geometry, genome, predictor.device,
                                       predictor.batch_size, int(cache_mb * 2**20) // 2, cache_dir,
                                       desc=f"embed {side}s")
            caches.append(cache)
            embedded[side] = cache.array
            padded += int(pad[index[side].ids].sum())
        log.info("element cache: %d distinct enhancer and %d promoter windows for %d pairs",
                 len(index["enhancer"]), len(index["promoter"]), len(index["enhancer"].ids))
        offset = 0
        for chunk in progress(table_chunks(), desc="predict", unit="chunk"):
            rows = slice(offset, offset + len(chunk))
            offset += len(chunk)
            tensors, inverse = {}, {}
            for side in ("enhancer", "promoter"):
                uniq, inverse[side] = np.unique(index[side].ids[rows], return_inverse=True)
                tensors[side] = torch.from_numpy(np.ascontiguousarray(embedded[side][uniq])).to(predictor.device)
            scores = score_embedded(model, tensors["enhancer"], tensors["promoter"], inverse["enhancer"].ravel(),
                                    inverse["promoter"].ravel(), predictor.device, predictor.batch_size)
            yield predictor.annotate(chunk, scores)

    try:
        chunks = plain_chunks()
        if predictor.element_cache and genome is not None:
            first = next(iter(table_chunks()), None)
            if first is not None and not has_inline_sequences(first.columns):
                index = index_windows(_checked(table_chunks(), genome, pairs_path), geometry)
                chunks = cached_chunks(index)
        written = _write_chunks(out, chunks)
        write_provenance(out, predictor.provenance(pairs_path))
    finally:
        for cache in caches:
            cache.close()
        if genome is not None:
            genome.close()
    if padded:
        log.info("%d windows ran past a chromosome end and were padded with N", padded)
    log.info("scored %d pairs from %s with %s -> %s", written, pairs_path, predictor.name, out)
    return written


@torch.no_grad()
def predict_gene_store(predictor: Predictor, store_path, out, chunk_size: int = 1024) -> int:
    """Predict log expression of every gene of a gene store (EPInformer)."""
    from epitools.training.sources import GeneSource

    if predictor.task != "genes":
        raise UsageError(f"model '{predictor.name}' scores pairs but {store_path} is a gene store")
    source = GeneSource(store_path)
    try:
        predictor.check_encoding(source.encoding, store_path)
        predictor.check_genome(genome_identity(source.provenance, source=store_path))
        n = len(source.table)

        def chunks():
            bounds = range(0, n, predictor.batch_size)
            for lo in progress(bounds, total=len(bounds), desc="predict", unit="batch"):
                rows = np.arange(lo, min(n, lo + predictor.batch_size))
                batch = source.batch(rows, predictor.device)
                pred = source.forward(predictor.model, batch)["prediction"].float().cpu().numpy()
                yield predictor.annotate(source.prediction_table(rows), pred)

        written = _write_chunks(out, chunks())
        write_provenance(out, predictor.provenance(store_path))
    finally:
        source.close()
    return written
