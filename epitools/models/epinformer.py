"""EPInformer (Lin, Luo & Pinello 2024): gene expression from a promoter and its candidate enhancers.

Architecture (paper defaults, ``d_model = 64``):

* sequence encoder, shared by promoter and enhancers: a stem convolution (256 filters,
  kernel 8) and four residual blocks (128/64/64/128 filters, kernel 3, BatchNorm, ELU,
  MaxPool 2, a 1x1 residual convolution); then four dilated convolutions (dilation 2/4/6,
  then a 1x1 to 32 channels) and a linear map over positions → 64 values per element;
* fusion: the element features (distance, DNase, H3K27ac, Hi-C contact — as many as the
  variant uses) are concatenated channel-wise with the embedding and two 1x1 convolutions
  map back to 64;
* interaction encoder: 3 pre-LayerNorm transformer layers, 4 heads; the promoter token
  attends to every enhancer, an enhancer only to the promoter and itself, padded slots to
  nothing;
* predictor: 3 dense layers on the promoter token plus the gene features (mRNA half-life)
  and, in the activity variants, the promoter's H3K27ac (log1p; "the promoter signal" of the
  paper's Fig. 1a; hparam ``promoter_signal``).

Variants (hparam ``variant``): ``promoter-only`` (enhancers masked, no features), ``PE``
(distance), ``PE-Activity`` (+ DNase, H3K27ac), ``PE-Activity-HiC`` (+ contact; 447k
parameters at 2 kb windows, as in the paper).

CPU cost: the sequence encoder runs on every filled slot (up to 61 windows of 2 kb per gene).
Shorter windows (``enhancer_length = promoter_length = 256``, built with
``build_gene_store(..., enhancer_length=256, promoter_length=256)``) keep tests and CPU
benchmarks fast; the length only changes the last linear layer of the encoder.

Optional pre-training (:mod:`epitools.models.epinformer_encoder`): ``epi-train --model
epinformer_encoder`` fits the same residual encoder to enhancer activity from 256 bp windows;
``epi-train --model epinformer --init-from`` that checkpoint (or
:meth:`EPInformer.load_sequence_encoder`) copies its encoder weights in.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from epitools.data.windows import GENE_WINDOWS
from epitools.errors import ModelError, UsageError
from epitools.models.epinformer_encoder import (POOLED, EnhancerActivityModel, ResidualSequenceEncoder,
                                                as_one_hot, pretrain_sequence_encoder)
from epitools.models.registry import register

# The encoder's names stay importable from here (the pre-training model is a part of EPInformer).
__all__ = ["EPInformer", "EnhancerActivityModel", "InteractionLayer", "ResidualSequenceEncoder",
           "interaction_mask", "parameter_count", "pretrain_sequence_encoder"]

log = logging.getLogger(__name__)

VARIANT_FEATURES = {"promoter-only": 0, "PE": 1, "PE-Activity": 3, "PE-Activity-HiC": 4}
PAPER_PARAMETERS = 447_149  # EPInformer-PE-Activity-HiC at 2 kb windows (Lin et al. 2024)


class InteractionLayer(nn.Module):
    """Pre-LayerNorm transformer layer that also returns per-head attention weights."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(d_model)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.ReLU(),
                                          nn.Linear(4 * d_model, d_model))

    def forward(self, x, key_padding_mask, attn_mask):
        h = self.norm1(x)
        h, weights = self.attention(h, h, h, key_padding_mask=key_padding_mask, attn_mask=attn_mask,
                                    need_weights=True, average_attn_weights=False)
        x = x + h
        return x + self.feed_forward(self.norm2(x)), weights


def interaction_mask(n_enhancers: int, device=None) -> torch.Tensor:
    """(1+M, 1+M) bool, True = blocked: enhancers see only the promoter (token 0) and themselves."""
    blocked = ~torch.eye(n_enhancers + 1, dtype=torch.bool, device=device)
    blocked[0, :] = False
    blocked[:, 0] = False
    return blocked


@register("epinformer")
class EPInformer(nn.Module):
    """EPInformer gene expression model (see the module docstring).

    Parameters
    ----------
    enhancer_length, promoter_length : int
        Window lengths (bp); equal, a multiple of 16 (2000 in the paper).
    **hparams
        Overrides of :attr:`default_hparams`.

    Schedule (paper): AdamW, lr 5e-4, weight decay 1e-6, batch 64, early stopping on the
    validation loss with patience 6. The paper sets no epoch limit, so ``epochs`` (500) is only
    a cap for a run that never plateaus; early stopping ends a run.
    """

    encoding = "onehot"
    task = "genes"
    # Parameters computed from sequence alone: freezing all of them lets epi-train embed each
    # gene once (epitools.training.gene_embeddings).
    sequence_branch = ("sequence_encoder", "dilated", "positions")
    # epi-train --init-from a checkpoint of these models loads only this part.
    pretrained_parts = {"epinformer_encoder": "sequence_encoder"}
    default_hparams = {
        "variant": "PE-Activity-HiC",
        "d_model": 64,
        "n_layers": 3,
        "n_heads": 4,
        "max_enhancers": 60,
        "n_gene_features": 8,
        "promoter_signal": True,
        "dropout": 0.0,
        "lr": 5e-4,
        "weight_decay": 1e-6,
        "betas": (0.9, 0.99),
        "batch_size": 64,
        "epochs": 500,
        "patience": 6,
    }

    def __init__(self, enhancer_length: int = GENE_WINDOWS[0], promoter_length: int = GENE_WINDOWS[1], **hparams):
        super().__init__()
        unknown = sorted(set(hparams) - set(self.default_hparams))
        if unknown:
            raise UsageError(f"unknown hyperparameter(s) for EPInformer: {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(self.default_hparams))}")
        hp = {**self.default_hparams, **hparams}
        if hp["variant"] not in VARIANT_FEATURES:
            raise UsageError(f"unknown EPInformer variant {hp['variant']!r}; "
                             f"choose from {', '.join(VARIANT_FEATURES)}")
        if enhancer_length != promoter_length:
            raise ModelError("EPInformer encodes promoter and enhancers with one network: "
                             f"enhancer_length ({enhancer_length}) must equal promoter_length "
                             f"({promoter_length})")
        if enhancer_length % POOLED or enhancer_length < POOLED:
            raise ModelError(f"EPInformer window length must be a multiple of {POOLED}, "
                             f"got {enhancer_length}")
        d = int(hp["d_model"])
        if d % 32:
            raise UsageError(f"d_model must be a multiple of 32, got {d}")
        hp["betas"] = tuple(float(b) for b in hp["betas"])
        self.hparams = {"enhancer_length": int(enhancer_length), "promoter_length": int(promoter_length),
                        **hp}
        self.enhancer_length = self.promoter_length = int(enhancer_length)
        self.n_features = VARIANT_FEATURES[hp["variant"]]
        self.n_gene_features = int(hp["n_gene_features"])
        # The paper feeds the promoter's H3K27ac to the activity variants' predictor only.
        self.uses_promoter_signal = bool(hp["promoter_signal"]) and self.n_features >= 3

        self.sequence_encoder = ResidualSequenceEncoder()
        pooled = enhancer_length // POOLED
        dilated = []
        previous = self.sequence_encoder.out_channels
        for dilation in (2, 4, 6):
            dilated += [nn.Conv1d(previous, 64, 3, dilation=dilation, padding=dilation),
                        nn.BatchNorm1d(64), nn.ELU()]
            previous = 64
        dilated += [nn.Conv1d(64, 32, 1), nn.BatchNorm1d(32), nn.ELU()]
        self.dilated = nn.Sequential(*dilated)
        # A linear map over positions gives d/32 values per channel: 32 * d/32 = d per element.
        self.positions = nn.Sequential(nn.Linear(pooled, d // 32), nn.ELU())
        self.fusion = nn.Sequential(nn.Conv1d(d + self.n_features, d, 1), nn.ReLU(),
                                    nn.Conv1d(d, d, 1), nn.ReLU())
        self.layers = nn.ModuleList(InteractionLayer(d, int(hp["n_heads"]), float(hp["dropout"]))
                                    for _ in range(int(hp["n_layers"])))
        self.predictor = nn.Sequential(nn.Linear(d + self.n_gene_features + self.uses_promoter_signal, 128),
                                       nn.ReLU(),
                                       nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1))

    # -- element embeddings --------------------------------------------------------------
    def embed_sequences(self, x: torch.Tensor) -> torch.Tensor:
        """One-hot (n, 4, L) or codes (n, L) → embeddings (n, d_model)."""
        x = as_one_hot(x)
        if x.ndim != 3 or x.shape[1] != 4 or x.shape[2] != self.enhancer_length:
            raise UsageError(f"EPInformer windows must be (n, 4, {self.enhancer_length}) one-hot or "
                             f"(n, {self.enhancer_length}) codes; got {tuple(x.shape)}")
        if x.shape[0] == 0:
            return x.new_zeros((0, self.hparams["d_model"]))
        h = self.positions(self.dilated(self.sequence_encoder(x)))  # (n, 32, d/32)
        return h.flatten(1)

    def embed_promoter(self, promoter: torch.Tensor) -> torch.Tensor:
        """Promoters (B, 4, L) one-hot or (B, L) codes → (B, d_model)."""
        return self.embed_sequences(promoter)

    def embed_enhancer(self, enhancers: torch.Tensor, enhancer_mask: torch.Tensor | None = None
                       ) -> torch.Tensor:
        """Enhancers (B, M, 4, L) one-hot or (B, M, L) codes → (B, M, d_model).

        Only filled slots (``enhancer_mask``) pass through the encoder; empty slots get zeros,
        so their content can never reach the output (nor BatchNorm's batch statistics).
        """
        mask = self._mask(enhancers, enhancer_mask)
        b, m = mask.shape
        out = enhancers.new_zeros((b, m, self.hparams["d_model"]), dtype=torch.float32)
        if self.n_features == 0 or not bool(mask.any()):
            return out
        out[mask] = self.embed_sequences(enhancers[mask]).to(out.dtype)
        return out

    def _mask(self, enhancers: torch.Tensor, enhancer_mask) -> torch.Tensor:
        if enhancer_mask is not None:
            return enhancer_mask.to(device=enhancers.device, dtype=torch.bool)
        if enhancers.is_floating_point():  # one-hot: a slot of all N is empty
            return enhancers.flatten(2).sum(-1) > 0
        return (enhancers < 4).any(-1)

    # -- interaction and prediction ------------------------------------------------------
    def interact(self, enhancer_embedding: torch.Tensor, promoter_embedding: torch.Tensor, *,
                 enhancer_mask: torch.Tensor, features: torch.Tensor | None = None):
        """Fuse features and run the interaction encoder.

        Returns
        -------
        (tokens, attention)
            tokens (B, 1+M, d_model), token 0 the promoter; attention (B, layers, heads, M),
            the promoter token's attention to each enhancer slot.
        """
        b, m, _ = enhancer_embedding.shape
        mask = enhancer_mask.to(torch.bool)
        if self.n_features == 0:
            mask = torch.zeros_like(mask)
        tokens = torch.cat([promoter_embedding.unsqueeze(1), enhancer_embedding], dim=1)  # (B, 1+M, d)
        if self.n_features:
            if features is None or features.shape[-1] < self.n_features:
                raise UsageError(f"variant {self.hparams['variant']} needs {self.n_features} "
                                 "enhancer feature channels")
            feats = features[..., :self.n_features].to(tokens.dtype) * mask.unsqueeze(-1)
            feats = torch.cat([feats.new_zeros((b, 1, self.n_features)), feats], dim=1)
            tokens = torch.cat([tokens, feats], dim=-1)
        tokens = self.fusion(tokens.transpose(1, 2)).transpose(1, 2)
        padding = torch.cat([mask.new_zeros((b, 1)), ~mask], dim=1)
        blocked = interaction_mask(m, device=tokens.device)
        attention = []
        for layer in self.layers:
            tokens, weights = layer(tokens, padding, blocked)
            attention.append(weights[:, :, 0, 1:])  # promoter query -> enhancer keys
        return tokens, torch.stack(attention, dim=1)

    def forward_embedded(self, enhancer_embedding: torch.Tensor, promoter_embedding: torch.Tensor, *,
                         enhancer_mask: torch.Tensor, features: torch.Tensor | None = None,
                         gene_features: torch.Tensor | None = None, **_) -> dict:
        """Predict from cached embeddings.

        Parameters
        ----------
        enhancer_embedding : (B, M, d_model)
        promoter_embedding : (B, d_model)
        enhancer_mask : (B, M) bool, True where a slot holds a candidate
        features : (B, M, >= n_features) float, channels distance, DNase, H3K27ac, contact
        gene_features : (B, n_gene_features + 1) float
            Half-life features then log1p(promoter H3K27ac), as
            :class:`~epitools.data.gene_dataset.GeneDataset` gives them; width
            ``n_gene_features`` (no promoter signal), 1 (promoter signal only) or 0 / None
            fill the missing part with zeros.

        Returns
        -------
        dict
            ``prediction`` (B,) log1p expression; ``attention`` (B, layers, heads, M):
            the promoter token's attention to each slot.
        """
        tokens, attention = self.interact(enhancer_embedding, promoter_embedding,
                                          enhancer_mask=enhancer_mask, features=features)
        head_input = tokens[:, 0]
        extra = self.gene_inputs(gene_features, head_input)
        if extra.shape[-1]:
            head_input = torch.cat([head_input, extra], dim=-1)
        return {"prediction": self.predictor(head_input).squeeze(-1), "attention": attention}

    def gene_inputs(self, gene_features: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        """The predictor's gene inputs (B, n_gene_features [+ 1 promoter signal]) from
        ``gene_features`` of any accepted width (see :meth:`forward_embedded`)."""
        n, b = self.n_gene_features, like.shape[0]
        width = 0 if gene_features is None else gene_features.shape[-1]
        zeros = like.new_zeros((b, 1))
        if width == 0:
            half_life, signal = like.new_zeros((b, n)), zeros
        elif width == n + 1:
            half_life, signal = gene_features[:, :n], gene_features[:, n:]
        elif width == n:
            half_life, signal = gene_features, zeros
        elif width == 1:
            # A store without half-life features: zeros, so one model config fits both kinds.
            half_life, signal = like.new_zeros((b, n)), gene_features
        else:
            raise UsageError(f"EPInformer expects {n} gene features (n_gene_features), optionally "
                             f"followed by the promoter signal; got {width}")
        parts = [half_life.to(like.dtype)] + ([signal.to(like.dtype)] if self.uses_promoter_signal else [])
        return torch.cat(parts, dim=-1)

    def forward(self, promoter: torch.Tensor, enhancers: torch.Tensor,
                enhancer_mask: torch.Tensor | None = None, features: torch.Tensor | None = None,
                gene_features: torch.Tensor | None = None, **_) -> dict:
        """Predict log expression of B genes.

        Parameters
        ----------
        promoter : (B, L) codes or (B, 4, L) one-hot
        enhancers : (B, M, L) codes or (B, M, 4, L) one-hot
        enhancer_mask, features, gene_features : see :meth:`forward_embedded`
            (the mask is inferred from all-N slots when None).

        Extra batch keys (``expression``, ``label``, ``index``) are ignored, so
        ``model(**batch)`` works on a :class:`~epitools.data.gene_dataset.GeneDataset` batch.
        """
        mask = self._mask(enhancers, enhancer_mask)
        return self.forward_embedded(self.embed_enhancer(enhancers, mask), self.embed_promoter(promoter),
                                     enhancer_mask=mask, features=features, gene_features=gene_features)

    # -- training contract ------------------------------------------------------------------
    def loss(self, out: dict, batch: dict) -> torch.Tensor:
        """Smooth L1 between ``prediction`` and the log1p expression (genes without one skipped)."""
        target = batch["expression"] if "expression" in batch else batch["label"]
        prediction = out["prediction"]
        target = target.to(prediction.dtype).reshape(prediction.shape)
        known = torch.isfinite(target)
        if not bool(known.any()):
            return prediction.sum() * 0.0
        return F.smooth_l1_loss(prediction[known], target[known])

    def configure_optimizer(self, lr: float | None = None, weight_decay: float | None = None):
        """AdamW, lr 5e-4, weight decay 1e-6, betas (0.9, 0.99) unless overridden."""
        return torch.optim.AdamW(self.parameters(),
                                 lr=self.hparams["lr"] if lr is None else lr,
                                 weight_decay=self.hparams["weight_decay"] if weight_decay is None
                                 else weight_decay,
                                 betas=self.hparams["betas"])

    def load_sequence_encoder(self, source) -> None:
        """Copy pre-trained residual encoder weights into this model.

        Parameters
        ----------
        source : EnhancerActivityModel, ResidualSequenceEncoder or state dict
            A state dict may hold the encoder's own keys or ``encoder.``-prefixed keys.
        """
        if isinstance(source, EnhancerActivityModel):
            state = source.encoder.state_dict()
        elif isinstance(source, nn.Module):
            state = source.state_dict()
        else:
            state = {k.removeprefix("encoder."): v for k, v in dict(source).items()
                     if not k.startswith("head.")}
        try:
            self.sequence_encoder.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelError(f"pre-trained encoder does not fit EPInformer: {exc}") from exc


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


