"""Layers shared by the pair models: pooling, attention, heads, k-mer embeddings.

Shapes follow PyTorch conventions: ``N`` batch, ``C`` channels, ``L`` positions.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from epitools.errors import InputError, UsageError


def conv_length(length: int, kernel: int, padding: str = "valid") -> int:
    """Output length of a stride-1 Conv1d over ``length`` positions."""
    return length if padding == "same" else length - kernel + 1


def pool_length(length: int, pool: int, ceil: bool = False) -> int:
    """Output length of MaxPool1d(pool, stride=pool) over ``length`` positions."""
    return -(-length // pool) if ceil else length // pool


class UnfoldConv1d(nn.Conv1d):
    """Conv1d computed as one matrix product over unfolded windows (stride 1, no groups).

    Same parameters and results as ``nn.Conv1d``; with few input channels (one-hot DNA)
    the weight gradient of the library convolution is several times slower on CPU than this
    GEMM, at the cost of an (N, L, C·kernel) temporary. Other devices use the library kernel.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, L) → (N, C_out, L_out)"""
        if x.device.type != "cpu":
            return super().forward(x)  # cuDNN is fast on accelerators
        kernel = self.kernel_size[0]
        if self.padding == "same":
            left = (kernel - 1) // 2
            x = F.pad(x, (left, kernel - 1 - left))
        elif self.padding != "valid" and self.padding[0]:
            x = F.pad(x, (self.padding[0], self.padding[0]))
        windows = x.unfold(2, kernel, 1).permute(0, 2, 1, 3).flatten(2)
        out = windows @ self.weight.flatten(1).t()
        if self.bias is not None:
            out = out + self.bias
        return out.transpose(1, 2)


def conv1d(in_channels: int, out_channels: int, kernel: int, padding="valid", bias: bool = True) -> nn.Conv1d:
    """A stride-1 Conv1d; the unfold implementation for one-hot-sized inputs (≤ 8 channels)."""
    cls = UnfoldConv1d if in_channels <= 8 else nn.Conv1d
    return cls(in_channels, out_channels, kernel, padding=padding, bias=bias)


def topk_pool(x: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` largest values of each sample, in decreasing order.

    Parameters
    ----------
    x : torch.Tensor
        (N, ...) values; everything after the batch axis is pooled together.
    k : int
        Number of values kept; at most the number of values per sample.

    Returns
    -------
    torch.Tensor
        (N, k)
    """
    flat = x.reshape(x.shape[0], -1)
    if not 1 <= k <= flat.shape[1]:
        raise UsageError(f"top-k pooling needs 1 <= k <= {flat.shape[1]}, got k={k}")
    return torch.topk(flat, k, dim=1, sorted=True).values


def position_attention(enhancer: torch.Tensor, promoter: torch.Tensor):
    """EPIPAM position attention module (PAM).

    The relation matrix ``R = Eᵀ P`` scores every enhancer position against every promoter
    position; the row (column) maxima, softmax-normalised over positions, weight each
    enhancer (promoter) position: ``E_new = E + E ⊙ a_E``.

    Parameters
    ----------
    enhancer : torch.Tensor
        (N, C, n) feature maps.
    promoter : torch.Tensor
        (N, C, m) feature maps.

    Returns
    -------
    enhancer_new, promoter_new : torch.Tensor
        (N, C, n) and (N, C, m).
    relation : torch.Tensor
        (N, n, m) relation matrix.
    enhancer_scores, promoter_scores : torch.Tensor
        (N, n) and (N, m) attention weights (each sums to 1).
    """
    relation = torch.bmm(enhancer.transpose(1, 2), promoter)
    # max(dim) rather than amax: its backward is a cheap scatter to the arg-max.
    enhancer_scores = torch.softmax(relation.max(dim=2).values, dim=1)
    promoter_scores = torch.softmax(relation.max(dim=1).values, dim=1)
    enhancer_new = enhancer + enhancer * enhancer_scores.unsqueeze(1)
    promoter_new = promoter + promoter * promoter_scores.unsqueeze(1)
    return enhancer_new, promoter_new, relation, enhancer_scores, promoter_scores


class AdditiveAttention(nn.Module):
    """Additive (Bahdanau) scores between two sequences.

    ``s_ij = tanh(q_i U + k_j W) · V``.

    Parameters
    ----------
    query_dim, key_dim : int
        Feature sizes of the two sequences.
    hidden : int
        Size of the shared tanh space.
    """

    def __init__(self, query_dim: int, key_dim: int, hidden: int):
        super().__init__()
        self.query = nn.Linear(query_dim, hidden, bias=False)
        self.key = nn.Linear(key_dim, hidden, bias=False)
        self.score = nn.Linear(hidden, 1, bias=False)

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        """(N, Lq, Dq), (N, Lk, Dk) → (N, Lq, Lk) unnormalised scores."""
        hidden = torch.tanh(self.query(query).unsqueeze(2) + self.key(key).unsqueeze(1))
        return self.score(hidden).squeeze(-1)


class MLPHead(nn.Module):
    """BatchNorm → Linear → ReLU → Dropout → Linear(1): one logit per sample.

    Parameters
    ----------
    in_features, hidden : int
        Input and hidden sizes.
    dropout : float
        Dropout rate after the hidden layer.
    batchnorm : bool
        Normalise the input first (EPIPAM heads do, EPIANN's does not).
    """

    def __init__(self, in_features: int, hidden: int, dropout: float, batchnorm: bool = True):
        super().__init__()
        layers = [nn.BatchNorm1d(in_features)] if batchnorm else []
        layers += [nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_features) → (N,)"""
        return self.net(x).squeeze(-1)


def glorot_init(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every Conv1d and Linear in ``module``."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv1d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def load_kmer_embedding(path, k: int, dim: int | None = None) -> torch.Tensor:
    """A pre-trained k-mer embedding matrix from a ``.npy`` or whitespace text file.

    Row 0 is the N-containing token, row ``1 + i`` the i-th k-mer in lexicographic order
    over ACGT, so the matrix has ``4**k + 1`` rows.

    Parameters
    ----------
    path : str or os.PathLike
        Matrix file.
    k : int
        k-mer size the model tokenises with.
    dim : int, optional
        Required embedding size; any size is accepted when None.

    Returns
    -------
    torch.Tensor
        (4**k + 1, D) float32.
    """
    path = os.fspath(path)
    try:
        matrix = np.load(path) if path.endswith(".npy") else np.loadtxt(path, ndmin=2)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read k-mer embedding matrix: {exc}", path=path) from exc
    rows = 4**k + 1
    if matrix.ndim != 2 or matrix.shape[0] != rows:
        raise InputError(
            f"embedding matrix has shape {matrix.shape}; expected ({rows}, D) for k={k} "
            f"(row 0 for N-containing k-mers, then the {4**k} k-mers in ACGT order)",
            path=path, field="shape")
    if dim is not None and matrix.shape[1] != dim:
        raise InputError(f"embedding matrix has {matrix.shape[1]} columns; the model's "
                         f"embedding_dim is {dim}", path=path, field="shape")
    if not np.isfinite(matrix).all():
        raise InputError("embedding matrix contains NaN or infinite values", path=path, field="values")
    return torch.as_tensor(matrix, dtype=torch.float32)


def kmer_embedding(k: int, dim: int, path=None) -> nn.Embedding:
    """Trainable token embedding over ``4**k + 1`` k-mer ids, optionally pre-trained.

    Without ``path`` the rows are drawn N(0, 1/dim) so token vectors start with unit-scale norm.
    """
    embedding = nn.Embedding(4**k + 1, dim)
    with torch.no_grad():
        if path:
            embedding.weight.copy_(load_kmer_embedding(path, k, dim))
        else:
            embedding.weight.normal_(0.0, 1.0 / math.sqrt(dim))
    return embedding
