"""EPInformer's residual sequence encoder and its enhancer-activity pre-training model.

Lin, Luo & Pinello (2024) pre-train EPInformer's convolutional encoder to predict enhancer
activity from 256 bp of sequence, then train the whole expression model from those weights.
:class:`EnhancerActivityModel` (``epi-train --model epinformer_encoder``, on a store from
``epi-encode activity``) is that pre-training model: the :class:`ResidualSequenceEncoder`
EPInformer uses, under two dense layers of 256. ``epi-train --model epinformer --init-from``
its checkpoint loads the encoder weights into EPInformer.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from epitools.data.encoding import one_hot, reverse_complement
from epitools.data.windows import ACTIVITY_WINDOWS
from epitools.errors import ModelError, UsageError
from epitools.models.registry import register

log = logging.getLogger(__name__)

POOLED = 16  # four MaxPool(2) in the residual encoder


def as_one_hot(x: torch.Tensor) -> torch.Tensor:
    """Codes (..., L) → one-hot (..., 4, L) float; one-hot input passes through."""
    if x.is_floating_point():
        return x
    return one_hot(x.long())


class ResidualSequenceEncoder(nn.Module):
    """Stem convolution and four residual conv blocks.

    Input one-hot (n, 4, L); output (n, channels[-1], L // 16).
    """

    def __init__(self, stem_channels: int = 256, channels=(128, 64, 64, 128), stem_kernel: int = 8,
                 kernel: int = 3):
        super().__init__()
        # Explicit 'same' padding: an even kernel with padding="same" makes torch copy the input.
        left = (stem_kernel - 1) // 2
        self.stem = nn.Sequential(nn.ConstantPad1d((left, stem_kernel - 1 - left), 0.0),
                                  nn.Conv1d(4, stem_channels, stem_kernel), nn.ELU())
        self.blocks = nn.ModuleList()
        self.residuals = nn.ModuleList()
        previous = stem_channels
        for width in channels:
            self.blocks.append(nn.Sequential(
                nn.Conv1d(previous, width, kernel, padding=kernel // 2), nn.BatchNorm1d(width),
                nn.ELU(), nn.MaxPool1d(2)))
            self.residuals.append(nn.Sequential(nn.Conv1d(width, width, 1), nn.ELU()))
            previous = width
        self.out_channels = previous

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block, residual in zip(self.blocks, self.residuals):
            x = block(x)
            x = residual(x) + x
        return x



@register("epinformer_encoder")
class EnhancerActivityModel(nn.Module):
    """Pre-training model: residual encoder + 2 dense layers of 256 → enhancer activity.

    Input one-hot (n, 4, L) (256 bp in the paper) or codes (n, L); ``forward`` returns
    ``{"prediction": (n,)}``, the predicted activity (log1p scale, see
    :mod:`epitools.data.activity_store`).

    Schedule: the paper gives the architecture and the 256 bp windows with reverse-complement
    augmentation, not the optimiser; ours is Adam, lr 1e-3, batch 128, MSE loss, early
    stopping on validation MSE with patience 5 (at most 100 epochs), chromosome folds of 12
    (``--split chrom12``) as for EPInformer itself.

    Parameters
    ----------
    enhancer_length, promoter_length : int
        The window length (a multiple of 16); ``promoter_length`` must equal it (activity
        stores have one window per row).
    **hparams
        Overrides of :attr:`default_hparams`.
    """

    encoding = "onehot"
    task = "activity"
    default_hparams = {"hidden": 256, "dropout": 0.1, "lr": 1e-3, "weight_decay": 0.0,
                       "batch_size": 128, "epochs": 100, "patience": 5}

    def __init__(self, enhancer_length: int = ACTIVITY_WINDOWS[0], promoter_length: int | None = None,
                 **hparams):
        super().__init__()
        unknown = sorted(set(hparams) - set(self.default_hparams))
        if unknown:
            raise UsageError(f"unknown hyperparameter(s) for epinformer_encoder: {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(self.default_hparams))}")
        length = int(enhancer_length)
        if promoter_length is not None and int(promoter_length) != length:
            raise ModelError(f"epinformer_encoder reads one window per row: promoter_length "
                             f"({promoter_length}) must equal enhancer_length ({length})")
        if length % POOLED or length < POOLED:
            raise ModelError(f"pre-training window must be a multiple of {POOLED} bp, got {length}")
        hp = {**self.default_hparams, **hparams}
        self.hparams = {"enhancer_length": length, "promoter_length": length, **hp}
        self.length = self.enhancer_length = length
        hidden, dropout = int(hp["hidden"]), float(hp["dropout"])
        self.encoder = ResidualSequenceEncoder()
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(self.encoder.out_channels * (length // POOLED), hidden),
            nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, 1))

    def forward(self, sequence: torch.Tensor, *_, **__) -> dict:
        """Sequences (n, 4, L) one-hot or (n, L) codes → ``{"prediction": (n,)}``."""
        x = as_one_hot(sequence)
        if x.ndim != 3 or x.shape[1:] != (4, self.length):
            raise UsageError(f"epinformer_encoder windows must be (n, 4, {self.length}) one-hot or "
                             f"(n, {self.length}) codes; got {tuple(sequence.shape)}")
        return {"prediction": self.head(self.encoder(x)).squeeze(-1)}

    def loss(self, out: dict, batch: dict) -> torch.Tensor:
        """MSE between ``prediction`` and the batch's ``activity``."""
        prediction = out["prediction"]
        return F.mse_loss(prediction, batch["activity"].to(prediction.dtype).reshape(prediction.shape))

    def configure_optimizer(self, lr: float | None = None, weight_decay: float | None = None):
        """Adam, lr 1e-3, no weight decay unless overridden."""
        return torch.optim.Adam(self.parameters(), lr=self.hparams["lr"] if lr is None else lr,
                                weight_decay=self.hparams["weight_decay"] if weight_decay is None
                                else weight_decay)


def pretrain_sequence_encoder(codes, activity, *, epochs: int = 10, batch_size: int = 128,
                              lr: float = 1e-3, seed: int = 0, augment_reverse_complement: bool = True,
                              device="cpu") -> EnhancerActivityModel:
    """Fit an :class:`EnhancerActivityModel` to in-memory windows (MSE, no validation).

    A library shortcut for small experiments; ``epi-train --model epinformer_encoder`` is the
    command, with validation, early stopping and checkpoints.

    Parameters
    ----------
    codes : array, shape (n, L) uint8
        Base codes of the activity windows (L a multiple of 16; 256 in the paper).
    activity : array, shape (n,)
        Target activity.
    epochs, batch_size, lr, seed : training settings (Adam).
    augment_reverse_complement : bool
        Read a random half of each batch on the other strand, as the paper augments its DNase
        windows (``epi-encode activity`` stores both strands instead).

    Returns
    -------
    EnhancerActivityModel
        In eval mode; pass it to :meth:`epitools.models.epinformer.EPInformer.load_sequence_encoder`.
    """
    torch.manual_seed(seed)
    x = torch.as_tensor(np.asarray(codes), dtype=torch.uint8)
    y = torch.as_tensor(np.asarray(activity, dtype=np.float32))
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise UsageError(f"need codes (n, L) and activity (n,), got {tuple(x.shape)} and {tuple(y.shape)}")
    model = EnhancerActivityModel(x.shape[1]).to(device)
    optimizer = model.configure_optimizer(lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(x.shape[0], generator=generator)
        total = 0.0
        for lo in range(0, x.shape[0], batch_size):
            rows = order[lo:lo + batch_size]
            if rows.numel() < 2:  # BatchNorm needs two samples
                continue
            batch = x[rows]
            if augment_reverse_complement:
                flip = torch.rand(rows.numel(), generator=generator) < 0.5
                batch = torch.where(flip[:, None], reverse_complement(batch), batch)
            loss = model.loss(model(batch.to(device)), {"activity": y[rows].to(device)})
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * rows.numel()
        log.debug("pre-training epoch %d: mse %.4f", epoch + 1, total / max(x.shape[0], 1))
    return model.eval()
