"""DNA base codes, one-hot and k-mer token encodings.

Base codes are uint8: A=0 C=1 G=2 T=3 N=4 (any other letter, soft-masked
lowercase included, maps to its upper-case code; anything unknown is N).
All functions are vectorised lookups over byte arrays and accept a leading
batch shape ``(...)``.
"""

from __future__ import annotations

import numpy as np

from epitools.errors import UsageError
from epitools.io.bases import ALPHABET, CODE_TABLE, LETTERS, N_CODE  # noqa: F401 - re-exported

try:  # torch is optional for the numpy paths
    import torch
except ImportError:  # pragma: no cover - torch is a hard dependency of the package
    torch = None

# base code -> complementary base code (N stays N)
COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


def _is_torch(x) -> bool:
    return torch is not None and isinstance(x, torch.Tensor)


def encode_bytes(raw: np.ndarray) -> np.ndarray:
    """Map an array of ASCII bytes (any shape, uint8) to base codes of the same shape."""
    return CODE_TABLE[np.asarray(raw, dtype=np.uint8)]


def encode_sequence(seq) -> np.ndarray:
    """Encode one DNA string.

    Parameters
    ----------
    seq : str or bytes
        Sequence of any letters; non-ACGT letters become N.

    Returns
    -------
    numpy.ndarray
        uint8 base codes, shape (L,).
    """
    if isinstance(seq, str):
        seq = seq.encode("ascii", errors="replace")
    return CODE_TABLE[np.frombuffer(seq, dtype=np.uint8)]


def decode_codes(codes) -> str:
    """Turn base codes of shape (L,) back into an upper-case string."""
    if _is_torch(codes):
        codes = codes.detach().cpu().numpy()
    codes = np.asarray(codes)
    if codes.ndim != 1:
        raise ValueError(f"decode_codes expects one sequence of shape (L,), got {codes.shape}")
    return LETTERS[np.minimum(codes, N_CODE)].tobytes().decode("ascii")


def one_hot(codes):
    """One-hot expand base codes.

    Parameters
    ----------
    codes : numpy.ndarray or torch.Tensor
        Integer base codes, shape (..., L).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        float32, shape (..., 4, L), rows in the order A, C, G, T; an N is an
        all-zero column. A tensor stays on its device.
    """
    if _is_torch(codes):
        bases = torch.arange(4, device=codes.device, dtype=codes.dtype)
        return (codes.unsqueeze(-2) == bases.unsqueeze(-1)).to(torch.float32)
    codes = np.asarray(codes)
    bases = np.arange(4, dtype=codes.dtype)
    return (codes[..., None, :] == bases[:, None]).astype(np.float32)


def kmer_dtype(k: int):
    """Smallest signed integer dtype holding every k-mer id (int16 up to k=7)."""
    return np.int16 if 4 ** k < np.iinfo(np.int16).max else np.int32


def kmer_ids(codes, k: int = 6) -> np.ndarray:
    """Token ids of every overlapping k-mer.

    Id 0 is any k-mer containing N; otherwise 1 + the k-mer's lexicographic
    rank over ACGT (``AAAAAA`` = 1, ``AAAAAC`` = 2, ..., ``TTTTTT`` = 4096 for
    k=6), the row convention of the dna2vec 6-mer vectors.

    Parameters
    ----------
    codes : array-like
        Base codes, shape (..., L).
    k : int
        k-mer length, 1 <= k <= 15.

    Returns
    -------
    numpy.ndarray
        Shape (..., L-k+1), int16 for k <= 7 and int32 above.
    """
    if not 1 <= k <= 15:
        raise UsageError(f"k-mer length k must be between 1 and 15, got {k}")
    if _is_torch(codes):
        codes = codes.detach().cpu().numpy()
    codes = np.asarray(codes)
    length = codes.shape[-1]
    if length < k:
        raise UsageError(f"windows of {length} bp are shorter than k={k}")
    n_out = length - k + 1
    dtype = kmer_dtype(k)
    # k in-place shifted multiply-adds in the output dtype: no int32 intermediates, no index
    # matrix. An N (code 4) adds 4 to the rank, which stays inside the dtype (at most
    # 4 * (4**k - 1) / 3) and is overwritten by the mask below.
    rank = np.zeros(codes.shape[:-1] + (n_out,), dtype=dtype)
    has_n = np.zeros(rank.shape, dtype=bool)
    for i in range(k):
        window = codes[..., i:i + n_out]
        rank *= 4
        rank += window
        has_n |= window >= N_CODE
    rank += 1
    rank[has_n] = 0
    return rank


def reverse_complement(codes):
    """Reverse complement base codes along the last axis, shape (..., L) -> (..., L).

    Works on numpy arrays and torch tensors (the tensor stays on its device).
    """
    if _is_torch(codes):
        table = torch.as_tensor(COMPLEMENT, device=codes.device).to(codes.dtype)
        return table[codes.long()].flip(-1)
    return COMPLEMENT[np.asarray(codes)][..., ::-1]


# --------------------------------------------------------------------------- conversions
def onehot_to_codes(x):
    """One-hot tensor (N, 4, L) → base codes (N, L) int64; an all-zero column is N (4)."""
    codes = x.argmax(dim=1)
    return torch.where(x.sum(dim=1) > 0.5, codes, torch.full_like(codes, N_CODE))


def onehot_to_kmer_ids(x, k: int):
    """One-hot tensor (N, 4, L) → k-mer ids (N, L-k+1) int64 in the convention of :func:`kmer_ids`.

    Lets in-silico mutagenesis of k-mer models work on one-hot sequence: a wrapper
    re-tokenises every mutated window. Stays on the tensor's device.
    """
    codes = onehot_to_codes(x)
    n_out = codes.shape[1] - k + 1
    is_n = codes >= N_CODE
    base = torch.where(is_n, torch.zeros_like(codes), codes)
    rank = torch.zeros(codes.shape[0], n_out, dtype=torch.int64, device=x.device)
    has_n = torch.zeros(codes.shape[0], n_out, dtype=torch.bool, device=x.device)
    for i in range(k):  # k shifted adds over whole arrays
        rank = rank * 4 + base[:, i:i + n_out]
        has_n |= is_n[:, i:i + n_out]
    return torch.where(has_n, torch.zeros_like(rank), rank + 1)


def kmer_ids_to_codes(ids, k: int) -> np.ndarray:
    """k-mer ids (N, T) → base codes (N, T+k-1) uint8.

    Base ``p`` is read from the k-mer starting at ``min(p, T-1)``; a base whose k-mer has id
    0 (it contained an N) becomes N, so bases next to an N are lost.
    """
    ids = np.asarray(ids, dtype=np.int64)
    _, t = ids.shape
    pos = np.arange(t + k - 1)
    start = np.minimum(pos, t - 1)
    digit = pos - start                                     # 0 = first base of the k-mer
    rank = ids[:, start] - 1
    codes = (rank // (4 ** (k - 1 - digit))[None, :]) % 4
    return np.where(ids[:, start] > 0, codes, N_CODE).astype(np.uint8)
