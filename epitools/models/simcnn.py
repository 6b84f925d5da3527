"""SIMCNN: the simple CNN baseline of Zhuang et al. 2019 ("A simple convolutional neural network
for prediction of enhancer–promoter interactions with DNA sequence data").

Inputs
------
One-hot enhancer (N, 4, Le) and promoter (N, 4, Lp) float32.

Architecture: per branch (separate weights) Conv1d(300 filters, width 40, valid) → ReLU →
MaxPool(20, stride 20); the two maps are concatenated along positions → BatchNorm → Dropout 0.5
→ flatten → FC 800 → BatchNorm → ReLU → Dropout 0.5 → FC → logit.

Choices: the normalisation/dropout around the 800-unit layer follow the SPEID-style head the
paper builds on; Adam with learning rate 1e-3 (hparam ``lr``). With 3 kb / 2 kb windows the
flattened map is (148 + 98)·300 = 73,800 features, so the FC layer holds ~59 M weights; lower
``dense`` (or ``filters``) for quick CPU runs. Element cache: ``embed_*`` is the whole branch
(conv → ReLU → pool), (N, 300, L'), since the branches first meet at the concatenation.
Data (class attributes, ``epi-train --list-models``): the paper's data preparation is not
reproduced; no augmentation (``augment_copies`` 0) and ``paper_split`` "chrom" with
``paper_folds`` 8 are our choice, the leak-free baseline setting.
"""

from __future__ import annotations

import torch
from torch import nn

from epitools.data.windows import PAIR_WINDOWS
from epitools.models.base import PairModel
from epitools.models.layers import conv1d, conv_length, glorot_init, pool_length
from epitools.models.registry import register


def _branch(filters: int, kernel: int, pool: int) -> nn.Sequential:
    return nn.Sequential(conv1d(4, filters, kernel), nn.ReLU(), nn.MaxPool1d(pool, pool))


@register("simcnn")
class SIMCNN(PairModel):
    """SIMCNN on one-hot sequence; see the module docstring for shapes and choices."""

    encoding = "onehot"
    augment_copies = 0
    paper_split = "chrom"
    paper_folds = 8
    default_hparams = {
        "filters": 300,
        "kernel": 40,
        "pool": 20,
        "dense": 800,
        "dropout": 0.5,
        "lr": 1e-3,
        "weight_decay": 0.0,
        "batch_size": 100,
    }

    def __init__(self, enhancer_length: int = PAIR_WINDOWS[0], promoter_length: int = PAIR_WINDOWS[1], **hparams):
        super().__init__(enhancer_length, promoter_length, **hparams)
        hp = self.hparams
        self.enhancer_branch = _branch(hp["filters"], hp["kernel"], hp["pool"])
        self.promoter_branch = _branch(hp["filters"], hp["kernel"], hp["pool"])
        positions = sum(pool_length(conv_length(length, hp["kernel"]), hp["pool"])
                        for length in (enhancer_length, promoter_length))
        self.head = nn.Sequential(
            nn.BatchNorm1d(hp["filters"]), nn.Dropout(hp["dropout"]), nn.Flatten(),
            nn.Linear(positions * hp["filters"], hp["dense"]), nn.BatchNorm1d(hp["dense"]), nn.ReLU(),
            nn.Dropout(hp["dropout"]), nn.Linear(hp["dense"], 1))
        glorot_init(self)

    def embed_enhancer(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 4, Le) → (N, filters, (Le - kernel + 1) // pool)."""
        self._check_input(x, self.enhancer_length, "enhancer")
        return self.enhancer_branch(x)

    def embed_promoter(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 4, Lp) → (N, filters, (Lp - kernel + 1) // pool)."""
        self._check_input(x, self.promoter_length, "promoter")
        return self.promoter_branch(x)

    def forward_embedded(self, e: torch.Tensor, p: torch.Tensor, *, return_attention: bool = False,
                         **extras) -> dict:
        """Branch maps → ``logit`` (N,). SIMCNN has no attention maps."""
        return {"logit": self.head(torch.cat([e, p], dim=2)).squeeze(-1)}
