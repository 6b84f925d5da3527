"""DNA base codes, one-hot and k-mer token encodings.

Base codes are uint8: A=0 C=1 G=2 T=3 N=4 (any other letter, soft-masked
lowercase included, maps to its upper-case code; anything unknown is N).
All functions are vectorised lookups over byte arrays and accept a leading
batch shape ``(...)``.
"""

from __future__ import annotations

import numpy as np

try:  # torch is optional for the numpy paths
    import torch
except ImportError:  # pragma: no cover - torch is a hard dependency of the package
    torch = None

ALPHABET = "ACGT"
N_CODE = 4

# byte value -> base code
CODE_TABLE = np.full(256, N_CODE, dtype=np.uint8)
for _code, _base in enumerate(ALPHABET):
    CODE_TABLE[ord(_base)] = _code
    CODE_TABLE[ord(_base.lower())] = _code

# base code -> ASCII letter
LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)

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
        raise ValueError(f"k must be between 1 and 15, got {k}")
    if _is_torch(codes):
        codes = codes.detach().cpu().numpy()
    codes = np.asarray(codes)
    length = codes.shape[-1]
    if length < k:
        raise ValueError(f"sequence length {length} is shorter than k={k}")
    n_out = length - k + 1
    is_n = codes >= N_CODE
    base = np.where(is_n, 0, codes).astype(np.int32)
    rank = np.zeros(codes.shape[:-1] + (n_out,), dtype=np.int32)
    for i in range(k):  # k shifted adds, not a per-base loop
        rank = rank * 4 + base[..., i:i + n_out]
    # number of N in each k-mer from a running count
    n_count = np.cumsum(is_n, axis=-1, dtype=np.int32)
    n_count = np.concatenate([np.zeros(codes.shape[:-1] + (1,), np.int32), n_count], axis=-1)
    has_n = (n_count[..., k:] - n_count[..., :n_out]) > 0
    ids = np.where(has_n, 0, rank + 1)
    return ids.astype(kmer_dtype(k))


def reverse_complement(codes):
    """Reverse complement base codes along the last axis, shape (..., L) -> (..., L).

    Works on numpy arrays and torch tensors (the tensor stays on its device).
    """
    if _is_torch(codes):
        table = torch.as_tensor(COMPLEMENT, device=codes.device).to(codes.dtype)
        return table[codes.long()].flip(-1)
    return COMPLEMENT[np.asarray(codes)][..., ::-1]
