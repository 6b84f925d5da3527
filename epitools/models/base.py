"""Base class of the pair-level EPI models: the parts of the model contract they share.

A pair model splits into a per-element part (``embed_enhancer``/``embed_promoter``: everything
before the first layer that mixes enhancer and promoter) and an interaction part
(``forward_embedded``), so ``epi-predict`` can cache element embeddings.
``forward(e, p) == forward_embedded(embed_enhancer(e), embed_promoter(p))``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from epitools.data.windows import PAIR_WINDOWS
from epitools.errors import UsageError


class PairModel(nn.Module):
    """Shared contract of the pair models.

    Subclasses set ``encoding`` ("onehot"|"kmer"), ``default_hparams`` and implement
    ``embed_enhancer``, ``embed_promoter`` and ``forward_embedded``.

    Parameters
    ----------
    enhancer_length, promoter_length : int
        Window lengths in bases (k-mer models take ``length - k + 1`` tokens).
    **hparams
        Overrides of ``default_hparams``; unknown names are a ``UsageError``.
    """

    encoding = "onehot"
    task = "pairs"
    default_hparams: dict = {}
    supports_adversarial = False
    # Whether forward(..., return_attention=True) adds enhancer_/promoter_attention maps.
    has_attention = False

    def __init__(self, enhancer_length: int = PAIR_WINDOWS[0], promoter_length: int = PAIR_WINDOWS[1], **hparams):
        super().__init__()
        unknown = sorted(set(hparams) - set(self.default_hparams))
        if unknown:
            raise UsageError(f"unknown hyperparameter(s) for {type(self).__name__}: "
                             f"{', '.join(unknown)}; known: {', '.join(sorted(self.default_hparams))}")
        merged = {**self.default_hparams, **hparams}
        self.hparams = {"enhancer_length": int(enhancer_length),
                        "promoter_length": int(promoter_length), **merged}
        self.enhancer_length = int(enhancer_length)
        self.promoter_length = int(promoter_length)

    def _record_embedding_source(self) -> None:
        """After a pre-trained embedding was loaded, keep its path as provenance only.

        The weights travel in the checkpoint's state_dict, so rebuilding a model from its saved
        hparams must not need the matrix file again (it may not exist where predictions run).
        """
        path = self.hparams.get("embedding_path")
        if path:
            self.hparams["embedding_source"] = str(path)
            self.hparams["embedding_path"] = None

    # -- input checks -------------------------------------------------------------------
    def input_length(self, length: int) -> int:
        """Positions along the last input axis for a window of ``length`` bases."""
        if self.encoding == "kmer":
            return length - self.hparams["k"] + 1
        return length

    def _check_input(self, x: torch.Tensor, length: int, which: str) -> None:
        expected = self.input_length(length)
        if self.encoding == "kmer":
            if x.ndim != 2 or x.shape[1] != expected:
                raise UsageError(f"{which} input must be k-mer ids of shape (N, {expected}); "
                                 f"got {tuple(x.shape)}")
        elif x.ndim != 3 or x.shape[1] != 4 or x.shape[2] != expected:
            raise UsageError(f"{which} input must be one-hot of shape (N, 4, {expected}); "
                             f"got {tuple(x.shape)}")

    def _check_delta(self, delta) -> None:
        if delta is not None and not self.supports_adversarial:
            raise UsageError(f"model {type(self).__name__} has no token embeddings to perturb; "
                             "adversarial training needs a k-mer embedding model (e.g. epipdlf)")

    # -- the contract ---------------------------------------------------------------------
    def forward(self, enhancer: torch.Tensor, promoter: torch.Tensor, *, return_attention: bool = False,
                enhancer_delta: torch.Tensor | None = None, promoter_delta: torch.Tensor | None = None,
                **extras) -> dict:
        """Score pairs.

        Parameters
        ----------
        enhancer, promoter : torch.Tensor
            One-hot (N, 4, L) float or k-mer ids (N, L-k+1) int64, per ``encoding``.
        return_attention : bool
            Add per-position ``enhancer_attention`` / ``promoter_attention`` maps where the model
            has them.
        enhancer_delta, promoter_delta : torch.Tensor, optional
            Perturbations added to the token embeddings (N, L-k+1, D); adversarial models only.
        **extras
            Model-specific inputs (e.g. ``enhancer_signal``), passed to ``forward_embedded``.

        Returns
        -------
        dict
            At least ``logit`` (N,) before the sigmoid.
        """
        self._check_delta(enhancer_delta)
        self._check_delta(promoter_delta)
        if self.supports_adversarial:
            e = self.embed_enhancer(enhancer, delta=enhancer_delta)
            p = self.embed_promoter(promoter, delta=promoter_delta)
        else:
            e = self.embed_enhancer(enhancer)
            p = self.embed_promoter(promoter)
        return self.forward_embedded(e, p, return_attention=return_attention, **extras)

    def loss(self, out: dict, batch: dict) -> torch.Tensor:
        """Mean binary cross-entropy of ``out["logit"]`` against ``batch["label"]``.

        Rows with an unknown label (< 0) do not count.
        """
        return masked_bce(out["logit"], batch["label"])

    def configure_optimizer(self, lr: float | None = None, weight_decay: float | None = None):
        """Adam with the paper's learning rate and L2 penalty unless overridden."""
        lr = self.hparams.get("lr", 1e-3) if lr is None else lr
        weight_decay = self.hparams.get("weight_decay", 0.0) if weight_decay is None else weight_decay
        return torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)


def masked_bce(logit: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Mean BCE-with-logits over the rows whose label is 0 or 1 (unknown labels are < 0)."""
    label = label.to(logit.dtype).reshape(logit.shape)
    known = label >= 0
    if bool(known.all()):
        return F.binary_cross_entropy_with_logits(logit, label)
    if not bool(known.any()):
        # Keeps the graph (and a zero gradient) for a batch without known labels.
        return logit.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logit[known], label[known])
