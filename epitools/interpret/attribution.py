"""Base-level attributions of pair models with tangermeme: DeepLIFT/SHAP and ISM.

A pair model scores (enhancer, promoter); tangermeme explains a one-input function. The
:class:`ElementView` wrapper fixes one element as the explained input ``X`` (N, 4, L) and
passes its partner as an extra argument, so ``deep_lift_shap(view, X, args=(partner,))``
gives the attributions of the enhancer given its promoter (or the reverse).

Approximations, by model:

* convolution / ReLU / max-pool / BatchNorm / dense models (SIMCNN, EPInformer's encoder):
  DeepLIFT rules apply to every nonlinearity; attributions sum to the logit difference
  from the references.
* EPIPAM (position attention: functional ``softmax`` and ``max`` over a relation matrix) and
  EPIANN (additive attention, ``softmax``, top-k pooling): these ops are not modules, so
  tangermeme has no DeepLIFT rule for them and back-propagates their plain gradient (the
  rescale rule is applied to every registered module, attention enters linearly). The sum of
  attributions then only approximates the output difference; the run logs the share of
  batches whose convergence deltas exceeded tangermeme's threshold. ISM has no such caveat.
* k-mer models (EPIPAM*, EPIPDLF) take token ids, which have no one-hot gradient: DeepLIFT
  is refused; ISM runs on one-hot sequence that :func:`onehot_to_kmer_ids` re-tokenises
  inside the wrapper, so every single-base substitution changes the k tokens covering it.

Output (:func:`save_attributions`): ``attributions.npz`` with ``ohe`` and ``hyp_scores``
(N, 4, L) float32 (the arrays TF-MoDISco-lite takes, after a transpose to (N, L, 4)),
``scores`` = ``hyp_scores * ohe``, ``pair_id``, ``index`` (store row), ``label``, window
coordinates (``chrom``, ``window_start``, ``reverse_complement``), ``element`` and ``method``.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from epitools.data.encoding import kmer_ids_to_codes, one_hot, onehot_to_kmer_ids
from epitools.data.windows import centered_starts
from epitools.errors import InputError, UsageError
from epitools.io.atomic import atomic_path
from epitools.progress import progress

log = logging.getLogger(__name__)

METHODS = ("deep_lift_shap", "ism")
ELEMENTS = ("enhancer", "promoter")


# --------------------------------------------------------------------------- the wrapper
class ElementView(nn.Module):
    """A pair model seen from one element: ``forward(x, partner) -> (N, 1)`` logits.

    Parameters
    ----------
    model : nn.Module
        A pair model (``forward(enhancer, promoter) -> {"logit": (N,)}``).
    element : {"enhancer", "promoter"}
        The element ``x`` is; ``partner`` is the other one, one-hot (N, 4, L').
    k : int, optional
        For k-mer models: both inputs are one-hot and re-tokenised into k-mer ids.
    """

    def __init__(self, model: nn.Module, element: str = "enhancer", k: int | None = None):
        super().__init__()
        if element not in ELEMENTS:
            raise UsageError(f"element must be one of {ELEMENTS}, got {element!r}")
        self.model = model
        self.element = element
        self.k = k

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return onehot_to_kmer_ids(x, self.k) if self.k else x

    def forward(self, x: torch.Tensor, partner: torch.Tensor) -> torch.Tensor:
        x, partner = self._prepare(x), self._prepare(partner)
        if self.element == "enhancer":
            out = self.model(x, partner)
        else:
            out = self.model(partner, x)
        return out["logit"].unsqueeze(1)


def _explain(view: nn.Module, x: torch.Tensor, partner: torch.Tensor, method: str, n_shuffles: int,
             batch_size: int, device, seed: int) -> tuple[torch.Tensor, int]:
    """Hypothetical attributions (N, 4, L) of ``x``; also the number of convergence warnings."""
    if method == "deep_lift_shap":
        from tangermeme.deep_lift_shap import deep_lift_shap

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hyp = deep_lift_shap(view, x, args=(partner,), n_shuffles=n_shuffles, hypothetical=True,
                                 batch_size=batch_size, device=device, random_state=seed)
        return hyp, int(any("onvergence" in str(w.message) for w in caught))
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fastISM capture notices: the slow path is exact
        hyp = saturation_mutagenesis(view, x, args=(partner,), hypothetical=True, batch_size=batch_size,
                                     device=device, fast=view.k is None)
    return hyp, 0


# --------------------------------------------------------------------------- selection
def select_rows(store, max_pairs: int | None = None, rows: str = "positive", seed: int = 0) -> np.ndarray:
    """Store rows to explain: un-augmented rows (one per source pair), sorted.

    Parameters
    ----------
    store : PairStore
    max_pairs : int, optional
        Keep at most this many, drawn at random with ``seed`` (all when None).
    rows : {"positive", "all"}
        ``positive`` keeps label-1 rows, or every row when the store has none.
    """
    data = store.read(fields=[f for f in ("label", "source_row", "enhancer_shift", "promoter_shift",
                                          "reverse_complement") if f in store.fields])
    n = len(data["label"])
    keep = np.ones(n, bool)
    for name in ("enhancer_shift", "promoter_shift"):
        if name in data:
            keep &= data[name] == 0
    if "reverse_complement" in data:
        keep &= ~data["reverse_complement"].astype(bool)
    if "source_row" in data:  # one row per source pair even if shifts were all 0
        first = np.zeros(n, bool)
        _, idx = np.unique(data["source_row"], return_index=True)
        first[idx] = True
        keep &= first
    if rows == "positive" and (keep & (data["label"] == 1)).any():
        keep &= data["label"] == 1
    elif rows not in ("positive", "all"):
        raise UsageError(f"rows must be 'positive' or 'all', got {rows!r}")
    chosen = np.flatnonzero(keep)
    if max_pairs is not None and chosen.size > max_pairs:
        chosen = np.sort(np.random.default_rng(seed).choice(chosen, max_pairs, replace=False))
    return chosen


def window_coordinates(store, indices: np.ndarray, element: str, length: int) -> dict:
    table = store.pairs_table(indices)
    extra = store.read(indices, fields=[f for f in (f"{element}_shift", "reverse_complement")
                                        if f in store.fields])
    shift = extra.get(f"{element}_shift", np.zeros(len(indices), np.int32))
    chrom_col, start_col, end_col = (f"{element}_chrom", f"{element}_start", f"{element}_end")
    if chrom_col in table:
        chrom = table[chrom_col].astype(str).to_numpy()
        start = centered_starts(table[start_col].to_numpy(np.int64), table[end_col].to_numpy(np.int64),
                                length, shift)
    else:
        chrom, start = np.full(len(indices), "", object), np.full(len(indices), -1, np.int64)
    rc = extra.get("reverse_complement", np.zeros(len(indices), bool)).astype(bool)
    return {"chrom": chrom.astype(str), "window_start": start.astype(np.int64), "reverse_complement": rc}


# --------------------------------------------------------------------------- main entry
def attribute_pairs(model: nn.Module, store_path, *, element: str = "enhancer",
                    method: str = "deep_lift_shap", n_shuffles: int = 20, indices=None,
                    max_pairs: int | None = None, rows: str = "positive", batch_size: int = 64,
                    chunk_size: int = 256, device=None, seed: int = 0) -> dict:
    """Attributions of one element of each pair, given its partner.

    Parameters
    ----------
    model : nn.Module
        A pair model with ``encoding`` "onehot" or "kmer" (eval mode is set here).
    store_path : path
        Pair store (``epi-encode``) the model was trained on.
    element : {"enhancer", "promoter"}
        The element explained.
    method : {"deep_lift_shap", "ism"}
        DeepLIFT/SHAP with ``n_shuffles`` dinucleotide-shuffled references, or saturation
        mutagenesis (mean-centred per position).
    indices : array-like of int, optional
        Store rows; default :func:`select_rows` (``max_pairs``, ``rows``, ``seed``).
    batch_size : int
        Sequence-reference pairs (DeepLIFT) or sequences (ISM) per forward pass.
    chunk_size : int
        Pairs read from the store and explained per step (memory bound).
    device : str or torch.device, optional
        Default: CUDA when present.

    Returns
    -------
    dict of numpy arrays
        ``ohe``, ``hyp_scores``, ``scores`` (N, 4, L) float32; ``pair_id`` (N,); ``index``
        (N,) int64; ``label`` (N,) int8; ``chrom``, ``window_start``, ``reverse_complement``
        (N,); ``element``, ``method`` (0-d strings).
    """
    from epitools.io.store import PairStore

    if method not in METHODS:
        raise UsageError(f"method must be one of {METHODS}, got {method!r}")
    if element not in ELEMENTS:
        raise UsageError(f"element must be one of {ELEMENTS}, got {element!r}")
    task = getattr(model, "task", "pairs")
    if task != "pairs":
        other = "attribute_gene_enhancers" if task == "genes" else "attribute_activity"
        raise UsageError(f"{type(model).__name__} is not a pair model (task '{task}'); use {other} for it")
    encoding = getattr(model, "encoding", "onehot")
    k = int(model.hparams["k"]) if encoding == "kmer" else None
    if k and method == "deep_lift_shap":
        raise UsageError(f"{type(model).__name__} reads k-mer tokens, which have no one-hot "
                         "gradient for DeepLIFT/SHAP; use --method ism (the one-hot sequence is "
                         "re-tokenised for every substitution)")
    if method == "deep_lift_shap" and n_shuffles < 1:
        raise UsageError("n_shuffles must be >= 1")
    from epitools.training.device import resolve_device

    device = resolve_device("auto" if device is None else str(device))
    model = model.eval()
    view = ElementView(model, element, k).eval()
    partner_side = "promoter" if element == "enhancer" else "enhancer"

    with PairStore(store_path) as store:
        if store.encoding != encoding:
            raise UsageError(f"the model reads '{encoding}' input but {store_path} is encoded as "
                             f"'{store.encoding}'")
        if indices is None:
            indices = select_rows(store, max_pairs, rows, seed)
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size == 0:
            raise InputError("no pairs to explain (empty selection)", path=store_path)
        attrs = store.attrs
        length = int(attrs.get(f"{element}_length"))
        n = indices.size
        ohe = np.zeros((n, 4, length), np.float32)
        hyp = np.zeros((n, 4, length), np.float32)
        meta = store.read(indices, fields=["pair_id", "label"])
        coords = window_coordinates(store, indices, element, length)
        n_warn = n_batches = 0
        with progress(total=n, desc=f"{method} {element}", unit="seq") as bar:
            for lo in range(0, n, chunk_size):
                rows_ = indices[lo:lo + chunk_size]
                data = store.read(rows_, fields=[element, partner_side])
                seqs = {}
                for side in (element, partner_side):
                    codes = data[side]
                    if k:
                        codes = kmer_ids_to_codes(codes, k)
                    seqs[side] = torch.from_numpy(one_hot(np.ascontiguousarray(codes)))
                x = seqs[element]
                if x.shape[-1] != length:
                    raise InputError(f"{element} windows are {x.shape[-1]} bp, store says {length}",
                                     path=store_path)
                h, w = _explain(view, x, seqs[partner_side], method, n_shuffles, batch_size, device,
                                seed)
                n_warn += w
                n_batches += 1
                ohe[lo:lo + len(rows_)] = x.numpy()
                hyp[lo:lo + len(rows_)] = h.detach().cpu().numpy()
                bar.update(len(rows_))
    if n_warn:
        log.warning("DeepLIFT/SHAP: convergence deltas above tangermeme's threshold in %d of %d "
                    "chunks: %s has operations without a DeepLIFT rule (attention softmax/max), "
                    "treated with their gradient; the attributions are approximate (use --method "
                    "ism for exact in-silico effects)", n_warn, n_batches, type(model).__name__)
    log.info("%s attributions of %d %s windows of %d bp", method, n, element, length)
    return {"ohe": ohe, "hyp_scores": hyp, "scores": hyp * ohe,
            "pair_id": np.asarray(meta["pair_id"]).astype(str), "index": indices,
            "label": np.asarray(meta["label"]).astype(np.int8), **coords,
            "element": np.array(element), "method": np.array(method)}


class _GeneEnhancerView(nn.Module):
    """EPInformer seen from one enhancer slot: ``forward(x, *context) -> (N, 1)`` prediction."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x, promoter, enhancers, mask, features, gene_features, slot):
        slot = slot.long()
        rows = torch.arange(x.shape[0], device=x.device)
        hot = torch.zeros(enhancers.shape[:2], dtype=x.dtype, device=x.device)
        hot[rows, slot] = 1.0
        # The explained enhancer replaces its slot; gradients reach it only through x.
        enhancers = enhancers * (1 - hot)[..., None, None] + x[:, None] * hot[..., None, None]
        mask = mask > 0.5
        emb_e = enhancers.new_zeros(enhancers.shape[:2] + (self.model.hparams["d_model"],))
        flat = self.model.embed_sequences(enhancers.flatten(0, 1)).reshape(emb_e.shape)
        emb_e = flat * mask[..., None]
        out = self.model.forward_embedded(emb_e, self.model.embed_promoter(promoter), enhancer_mask=mask,
                                          features=features, gene_features=gene_features)
        return out["prediction"].unsqueeze(1)


def attribute_gene_enhancers(model: nn.Module, gene_store_path, *, genes=None, slots_per_gene: int = 1,
                             max_genes: int | None = None, method: str = "deep_lift_shap",
                             n_shuffles: int = 20, batch_size: int = 16, device=None,
                             seed: int = 0) -> dict:
    """EPInformer: attributions of chosen enhancers' sequence to the predicted expression.

    The explained enhancer passes through the (pre-trained) sequence encoder; the promoter,
    the other candidates and all features stay fixed. For each gene the ``slots_per_gene``
    filled slots with the highest promoter-token attention are explained.

    Returns
    -------
    dict
        As :func:`attribute_pairs` (``ohe``, ``hyp_scores``, ``scores`` (N, 4, L)), with
        ``pair_id`` = ``gene:slot``, ``index`` the gene row and ``slot``.
    """
    from tangermeme.deep_lift_shap import deep_lift_shap
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    from epitools.data.gene_dataset import GeneDataset
    from epitools.training.device import resolve_device

    device = resolve_device("auto" if device is None else str(device))
    model = model.eval()
    dataset = GeneDataset(gene_store_path, one_hot=True)
    gene_rows = np.arange(len(dataset)) if genes is None else np.asarray(genes, np.int64)
    if max_genes is not None and gene_rows.size > max_genes:
        gene_rows = np.sort(np.random.default_rng(seed).choice(gene_rows, max_genes, replace=False))
    batch = dataset.batch(gene_rows)
    with torch.no_grad():
        out = model(**batch)
    attention = out["attention"].mean(dim=(1, 2))                  # (B, M)
    attention = attention.masked_fill(~batch["enhancer_mask"], -1.0)
    top = torch.topk(attention, min(slots_per_gene, attention.shape[1]), dim=1).indices
    owner, slot = [], []
    for r in range(len(gene_rows)):
        for s in top[r].tolist():
            if bool(batch["enhancer_mask"][r, s]):
                owner.append(r)
                slot.append(s)
    if not owner:
        raise InputError("no gene has a filled enhancer slot to explain", path=gene_store_path)
    owner, slot = torch.tensor(owner), torch.tensor(slot)
    x = batch["enhancers"][owner, slot].float()
    args = (batch["promoter"][owner].float(), batch["enhancers"][owner].float(),
            batch["enhancer_mask"][owner].float(), batch["features"][owner].float(),
            batch["gene_features"][owner].float(), slot.float())
    view = _GeneEnhancerView(model).eval()
    if method == "deep_lift_shap":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # LayerNorm/attention rules: logged below
            hyp = deep_lift_shap(view, x, args=args, n_shuffles=n_shuffles, hypothetical=True,
                                 batch_size=batch_size, device=device, random_state=seed)
    elif method == "ism":
        hyp = saturation_mutagenesis(view, x, args=args, hypothetical=True, batch_size=batch_size,
                                     device=device, fast=False)
    else:
        raise UsageError(f"method must be one of {METHODS}, got {method!r}")
    genes_table = dataset.store.genes() if hasattr(dataset, "store") else None
    names = (genes_table["gene"].to_numpy()[gene_rows[owner.numpy()]].astype(str)
             if genes_table is not None and "gene" in genes_table else gene_rows[owner.numpy()].astype(str))
    ohe = x.numpy().astype(np.float32)
    hyp = hyp.detach().cpu().numpy().astype(np.float32)
    n = ohe.shape[0]
    return {"ohe": ohe, "hyp_scores": hyp, "scores": hyp * ohe,
            "pair_id": np.array([f"{g}:{s}" for g, s in zip(names, slot.tolist())]),
            "index": gene_rows[owner.numpy()], "slot": slot.numpy(), "label": np.full(n, -1, np.int8),
            "chrom": np.full(n, "", dtype=str), "window_start": np.full(n, -1, np.int64),
            "reverse_complement": np.zeros(n, bool),
            "element": np.array("enhancer"), "method": np.array(method)}


def load_model(path, device="auto"):
    """(model, device): the model of checkpoint ``path`` on ``device`` ("auto", "cpu", "cuda[:N]")."""
    from epitools.io.checkpoint import load_checkpoint
    from epitools.models.registry import model_from_checkpoint
    from epitools.training.device import resolve_device

    dev = resolve_device(str(device))
    return model_from_checkpoint(load_checkpoint(path), device=dev), dev


def attribute(model: nn.Module, store_path, *, element: str = "enhancer", max_pairs: int | None = None,
              rows: str = "positive", slots_per_gene: int = 1, **kwargs) -> dict:
    """Attributions of whatever the model explains: :func:`attribute_gene_enhancers` for a
    gene-expression model (``max_pairs`` genes, ``slots_per_gene`` enhancers each),
    :func:`epitools.interpret.activity_attribution.attribute_activity` for an enhancer-activity
    model (``max_pairs`` windows chosen by ``rows``), else :func:`attribute_pairs` (``element``
    of ``max_pairs`` pairs); ``kwargs`` (``method``, ``n_shuffles``, ``batch_size``,
    ``device``, ``seed``) go to each."""
    from epitools.training.sources import store_kind

    task = getattr(model, "task", "pairs")
    kind = store_kind(store_path) or "pairs"  # stores from before the kind attribute are pair stores
    if kind != task:
        raise InputError(f"{type(model).__name__} explains '{task}' stores but this is a '{kind}' store",
                         path=store_path, field="kind")
    if task == "genes":
        return attribute_gene_enhancers(model, store_path, slots_per_gene=slots_per_gene,
                                        max_genes=max_pairs, **kwargs)
    if task == "activity":
        from epitools.interpret.activity_attribution import attribute_activity

        if element != "enhancer":
            raise UsageError("an activity model explains its candidate-enhancer windows: "
                             "--element promoter does not apply")
        return attribute_activity(model, store_path, max_pairs=max_pairs, rows=rows, **kwargs)
    return attribute_pairs(model, store_path, element=element, max_pairs=max_pairs, rows=rows, **kwargs)


# --------------------------------------------------------------------------- files
REQUIRED_KEYS = ("ohe", "hyp_scores", "pair_id")


def save_attributions(result: dict, path) -> Path:
    """Write an attribution dict to ``.npz`` atomically (uncompressed: modisco reads it fast)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **result)
    return path


def load_attributions(path) -> dict:
    """Read ``attributions.npz``; checks the arrays TF-MoDISco-lite needs."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read attributions: {exc}", path=path) from exc
    for key in REQUIRED_KEYS:
        if key not in data:
            raise InputError(f"attributions file lacks array '{key}'", path=path, field=key)
    ohe, hyp = data["ohe"], data["hyp_scores"]
    if ohe.ndim != 3 or ohe.shape[1] != 4 or hyp.shape != ohe.shape:
        raise InputError(f"expected ohe and hyp_scores of equal shape (N, 4, L); got {ohe.shape} "
                         f"and {hyp.shape}", path=path, field="hyp_scores")
    if not np.isfinite(hyp).all():
        bad = int(np.flatnonzero(~np.isfinite(hyp).all(axis=(1, 2)))[0])
        raise InputError(f"non-finite attribution in sequence {bad}", path=path, line=bad + 1,
                         field="hyp_scores")
    data.setdefault("scores", hyp * ohe)
    for key in ("element", "method"):
        if key in data:
            data[key] = str(data[key])
    return data
