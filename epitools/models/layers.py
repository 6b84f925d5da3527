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
    GEMM, at the cost of an (N, L, C·kernel) temporary. Other devices, and CPU inference
    (no gradients: ~1.5x faster there, SIMCNN's 4→300 × 40 conv at 500 bp), use the library kernel.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, L) → (N, C_out, L_out)"""
        if x.device.type != "cpu" or not torch.is_grad_enabled():
            # cuDNN is fast on accelerators; on CPU only the weight gradient needs the GEMM.
            # Every no-grad call (cached and uncached prediction alike) takes this one kernel.
            return super().forward(x)
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
    over ACGT, so the matrix has ``4**k + 1`` rows and any number D of columns. dna2vec's
    6-mer vectors (100 d) and DNABERT's 6-mer token embeddings (768 d, the EPIPDLF paper's;
    see :func:`kmer_matrix_from_tokens`) both fit.

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


def kmer_matrix_from_tokens(tokens, vectors, k: int, unknown_token: str = "[UNK]") -> np.ndarray:
    """Reorder a tokenizer's embedding table into the ``(4**k + 1, D)`` layout of the models.

    DNABERT (6-mer) export, e.g. with the ``transformers`` package::

        model = AutoModel.from_pretrained("zhihan1996/DNA_bert_6")
        tokens = [t.strip() for t in open(f"{model_dir}/vocab.txt")]
        vectors = model.embeddings.word_embeddings.weight.detach().numpy()   # (4101, 768)
        np.save("dnabert_6mer.npy", kmer_matrix_from_tokens(tokens, vectors, k=6))

    then ``epi-train --hparam embedding_file=dnabert_6mer.npy``.

    Parameters
    ----------
    tokens : sequence of str
        Token of each row of ``vectors`` (the vocabulary in id order); special tokens allowed.
    vectors : array-like
        (V, D) embedding table.
    k : int
        k-mer size.
    unknown_token : str
        Token whose vector becomes row 0 (N-containing k-mers); zeros when absent.

    Returns
    -------
    np.ndarray
        (4**k + 1, D) float32: row 0 ``unknown_token``, then the k-mers in ACGT order.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(tokens) != vectors.shape[0]:
        raise InputError(f"{len(tokens)} tokens for an embedding table of shape {vectors.shape}",
                         field="tokens")
    index = {token.upper(): i for i, token in enumerate(tokens)}
    codes = np.arange(4**k)[:, None] // (4 ** np.arange(k - 1, -1, -1))[None, :] % 4
    kmers = ["".join("ACGT"[c] for c in row) for row in codes]
    missing = [kmer for kmer in kmers if kmer not in index]
    if missing:
        raise InputError(f"{len(missing)} of the {4**k} {k}-mers have no token (first: {missing[0]})",
                         field="tokens")
    out = np.zeros((4**k + 1, vectors.shape[1]), dtype=np.float32)
    if unknown_token.upper() in index:
        out[0] = vectors[index[unknown_token.upper()]]
    out[1:] = vectors[[index[kmer] for kmer in kmers]]
    return out


def pretrained_embedding(hp: dict, given: dict) -> torch.Tensor | None:
    """The pre-trained matrix named by the ``embedding_file`` (or older ``embedding_path``) hparam.

    Its width sets ``hp["embedding_dim"]`` unless ``given`` (the caller's hparams) sets another,
    which is an ``InputError``. After loading, both names are cleared and the file is kept as
    ``embedding_source``: the weights travel in the checkpoint, so rebuilding from saved hparams
    needs no file.

    Returns
    -------
    torch.Tensor or None
        (4**k + 1, D), or None without a file.
    """
    path = hp.get("embedding_file") or hp.get("embedding_path")
    if not path:
        return None
    matrix = load_kmer_embedding(path, hp["k"], given.get("embedding_dim"))
    hp["embedding_dim"] = int(matrix.shape[1])
    hp["embedding_source"] = str(path)
    hp["embedding_file"] = hp["embedding_path"] = None
    return matrix


def kmer_embedding(k: int, dim: int, path=None, matrix: torch.Tensor | None = None) -> nn.Embedding:
    """Trainable token embedding over ``4**k + 1`` k-mer ids, optionally pre-trained.

    ``matrix`` (4**k + 1, dim) or the file ``path`` gives the initial rows; without either they
    are drawn N(0, 1/dim) so token vectors start with unit-scale norm.
    """
    embedding = nn.Embedding(4**k + 1, dim)
    with torch.no_grad():
        if matrix is None and path:
            matrix = load_kmer_embedding(path, k, dim)
        if matrix is not None:
            embedding.weight.copy_(matrix)
        else:
            embedding.weight.normal_(0.0, 1.0 / math.sqrt(dim))
    return embedding
