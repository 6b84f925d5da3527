"""EPIPDLF: k-mer embedding + CNN + GRU + self-attention EPI model with an optional epigenomic
branch, PGD adversarial training and pre-training / fine-tuning.

Inputs
------
6-mer ids enhancer (N, Le-5) and promoter (N, Lp-5) int64. With ``n_signal_tracks`` > 0 the
extras ``enhancer_signal`` (N, n_bins, n_tracks) and ``promoter_signal`` (N, n_bins', n_tracks)
float32 are required.

Architecture, per branch (separate weights): trainable 6-mer embedding (4097 × D, optionally
initialised from a pre-trained (4**k + 1, D) ``.npy`` matrix, hparam ``embedding_file``; the paper
uses DNABERT's 6-mer token embeddings, D = 768, exported with
``epitools.models.layers.kmer_matrix_from_tokens``; dna2vec's 100-d 6-mer vectors are the
documented alternative; D follows the file) → Conv1d(64,
width 40) → ReLU → MaxPool(20) → bidirectional GRU (50 per direction) → multi-head self-
attention (4 heads, residual + LayerNorm) → max over positions → BatchNorm → Dropout → FC →
ReLU: a ``branch_dim`` vector. Fusion: [e, p, |e − p|, e ⊙ p] (+ the signal vectors) →
BatchNorm → Dropout → FC → ReLU → FC → logit. Epigenomic branch, per element: per-bin MLP
(n_tracks → signal_dim → signal_dim) → multi-head self-attention (residual + LayerNorm) → mean
over bins. PGD perturbs the token embeddings (``enhancer_delta`` / ``promoter_delta``, see
``epitools.training.adversarial``): the paper's Eq. 11, sign steps clipped to the L∞ ball
(``adv_norm`` "linf"; ε, α, K are our choice, the paper gives none).

Schedule (paper, "Training strategy"): pre-train on the pooled cell lines for 15 epochs, then
fine-tune on the target line for 10 epochs, Adam lr 1e-3: ``pretrain_epochs`` / ``finetune_epochs``
/ ``finetune_lr``, run by ``epi-train --strategy pretrain-finetune``
(``epitools.training.strategy``). A single-stage run trains ``epochs`` = 15 with ``patience`` 15
(the paper trains fixed epochs; the best validation epoch is kept).
Data (class attributes, ``epi-train --list-models``): no augmentation (``augment_copies`` 0), as
the paper; ``paper_split`` "chrom" with ``paper_folds`` 8 is our choice (the folds are fixed by
chromosome name, so the pre-training and fine-tuning stores agree on every test chromosome).

Choices the paper leaves open: the conv/GRU sizes follow EPI-DLMH, which EPIPDLF extends; 4
attention heads; max pooling over positions; the matching-heuristic fusion; ``branch_dim`` 64,
``hidden`` 64, dropout 0.5; mean pooling of the signal branch. Element cache: ``embed_*`` is
the whole sequence tower, (N, branch_dim); the signal branch runs in ``forward_embedded``.
Attention maps: the self-attention weight each pooled position receives, averaged over queries
and heads, (N, L'), L' = (L - k + 1 - 39) // 20.
"""

from __future__ import annotations

import torch
from torch import nn

from epitools.data.windows import PAIR_WINDOWS
from epitools.errors import UsageError
from epitools.models.base import PairModel
from epitools.models.layers import conv_length, kmer_embedding, pool_length, pretrained_embedding
from epitools.models.registry import register


class SequenceTower(nn.Module):
    """k-mer ids (N, T) → (N, branch_dim), plus per-position attention (N, T')."""

    def __init__(self, hp: dict, matrix: torch.Tensor | None = None):
        super().__init__()
        self.embedding = kmer_embedding(hp["k"], hp["embedding_dim"], matrix=matrix)
        self.conv = nn.Sequential(nn.Conv1d(hp["embedding_dim"], hp["filters"], hp["kernel"]), nn.ReLU(),
                                  nn.MaxPool1d(hp["pool"], hp["pool"]))
        self.gru = nn.GRU(hp["filters"], hp["gru_hidden"], batch_first=True, bidirectional=True)
        width = 2 * hp["gru_hidden"]
        self.attention = nn.MultiheadAttention(width, hp["heads"], batch_first=True)
        self.norm = nn.LayerNorm(width)
        self.out = nn.Sequential(nn.BatchNorm1d(width), nn.Dropout(hp["dropout"]),
                                 nn.Linear(width, hp["branch_dim"]), nn.ReLU())

    def forward(self, ids: torch.Tensor, delta: torch.Tensor | None = None, need_weights: bool = False):
        """Ids (N, T) (+ embedding perturbation (N, T, D)) → ((N, branch_dim), (N, T') or None)."""
        tokens = self.embedding(ids)
        if delta is not None:
            tokens = tokens + delta
        h = self.conv(tokens.transpose(1, 2)).transpose(1, 2)      # (N, T', filters)
        h, _ = self.gru(h)                                         # (N, T', 2·gru_hidden)
        attended, weights = self.attention(h, h, h, need_weights=need_weights)
        h = self.norm(h + attended)
        received = weights.mean(dim=1) if need_weights else None
        return self.out(h.amax(dim=1)), received


class SignalBranch(nn.Module):
    """Per-bin signal (N, B, n_tracks) → (N, signal_dim)."""

    def __init__(self, n_tracks: int, dim: int, heads: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(n_tracks, dim), nn.ReLU(), nn.Linear(dim, dim), nn.ReLU())
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        h = self.mlp(signal)
        attended, _ = self.attention(h, h, h, need_weights=False)
        return self.norm(h + attended).mean(dim=1)


@register("epipdlf")
class EPIPDLF(PairModel):
    """EPIPDLF on 6-mer tokens; see the module docstring for shapes and choices."""

    encoding = "kmer"
    has_attention = True
    supports_adversarial = True
    augment_copies = 0
    paper_split = "chrom"
    paper_folds = 8
    default_hparams = {
        "k": 6,
        "embedding_dim": 100,
        "embedding_file": None,
        "embedding_path": None,
        "embedding_source": None,
        "filters": 64,
        "kernel": 40,
        "pool": 20,
        "gru_hidden": 50,
        "heads": 4,
        "branch_dim": 64,
        "hidden": 64,
        "dropout": 0.5,
        "n_signal_tracks": 0,
        "signal_dim": 32,
        "signal_heads": 4,
        "adv_norm": "linf",
        "adv_epsilon": 0.01,
        "adv_alpha": 0.004,
        "adv_steps": 3,
        "epochs": 15,
        "patience": 15,
        "pretrain_epochs": 15,
        "finetune_epochs": 10,
        "finetune_lr": 1e-3,
        "lr": 1e-3,
        "weight_decay": 0.0,
        "batch_size": 64,
    }

    def __init__(self, enhancer_length: int = PAIR_WINDOWS[0], promoter_length: int = PAIR_WINDOWS[1], **hparams):
        super().__init__(enhancer_length, promoter_length, **hparams)
        hp = self.hparams
        matrix = pretrained_embedding(hp, hparams)
        for length in (enhancer_length, promoter_length):
            if pool_length(conv_length(self.input_length(length), hp["kernel"]), hp["pool"]) < 1:
                raise UsageError(f"epipdlf: a {length} bp window is too short for conv width "
                                 f"{hp['kernel']} and pool {hp['pool']}")
        self.enhancer_tower = SequenceTower(hp, matrix)
        self.promoter_tower = SequenceTower(hp, matrix)
        fused = 4 * hp["branch_dim"]
        self.n_signal_tracks = int(hp["n_signal_tracks"])
        if self.n_signal_tracks > 0:
            self.enhancer_signal = SignalBranch(self.n_signal_tracks, hp["signal_dim"], hp["signal_heads"])
            self.promoter_signal = SignalBranch(self.n_signal_tracks, hp["signal_dim"], hp["signal_heads"])
            fused += 2 * hp["signal_dim"]
        self.head = nn.Sequential(nn.BatchNorm1d(fused), nn.Dropout(hp["dropout"]),
                                  nn.Linear(fused, hp["hidden"]), nn.ReLU(), nn.Linear(hp["hidden"], 1))

    def embed_tokens(self, x: torch.Tensor, which: str = "enhancer") -> torch.Tensor:
        """k-mer ids (N, T) → token embeddings (N, T, D): the tensor PGD perturbs."""
        tower = self.enhancer_tower if which == "enhancer" else self.promoter_tower
        return tower.embedding(x)

    def embed_enhancer(self, x: torch.Tensor, delta: torch.Tensor | None = None) -> torch.Tensor:
        """(N, Le-k+1) ids → (N, branch_dim)."""
        self._check_input(x, self.enhancer_length, "enhancer")
        return self.enhancer_tower(x, delta)[0]

    def embed_promoter(self, x: torch.Tensor, delta: torch.Tensor | None = None) -> torch.Tensor:
        """(N, Lp-k+1) ids → (N, branch_dim)."""
        self._check_input(x, self.promoter_length, "promoter")
        return self.promoter_tower(x, delta)[0]

    def forward(self, enhancer: torch.Tensor, promoter: torch.Tensor, *, return_attention: bool = False,
                enhancer_delta: torch.Tensor | None = None, promoter_delta: torch.Tensor | None = None,
                **extras) -> dict:
        """See ``PairModel.forward``; the attention maps come from the towers' self-attention."""
        if not return_attention:
            return super().forward(enhancer, promoter, enhancer_delta=enhancer_delta,
                                   promoter_delta=promoter_delta, **extras)
        self._check_input(enhancer, self.enhancer_length, "enhancer")
        self._check_input(promoter, self.promoter_length, "promoter")
        e, e_map = self.enhancer_tower(enhancer, enhancer_delta, need_weights=True)
        p, p_map = self.promoter_tower(promoter, promoter_delta, need_weights=True)
        out = self.forward_embedded(e, p, **extras)
        out["enhancer_attention"], out["promoter_attention"] = e_map, p_map
        return out

    def forward_embedded(self, e: torch.Tensor, p: torch.Tensor, *, return_attention: bool = False,
                         enhancer_signal: torch.Tensor | None = None,
                         promoter_signal: torch.Tensor | None = None, **extras) -> dict:
        """Tower vectors (N, branch_dim) (+ signals) → ``logit`` (N,).

        Attention maps need the sequences, so ``return_attention`` is honoured by ``forward``.
        """
        parts = [e, p, (e - p).abs(), e * p]
        if self.n_signal_tracks > 0:
            for which, signal in (("enhancer", enhancer_signal), ("promoter", promoter_signal)):
                if signal is None:
                    raise UsageError(f"epipdlf was built with n_signal_tracks={self.n_signal_tracks}; "
                                     f"the batch needs '{which}_signal' (N, n_bins, n_tracks)")
                if signal.ndim != 3 or signal.shape[2] != self.n_signal_tracks:
                    raise UsageError(f"{which}_signal must have shape (N, n_bins, "
                                     f"{self.n_signal_tracks}); got {tuple(signal.shape)}")
            parts += [self.enhancer_signal(enhancer_signal.float()),
                      self.promoter_signal(promoter_signal.float())]
        return {"logit": self.head(torch.cat(parts, dim=1)).squeeze(-1)}
