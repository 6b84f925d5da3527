"""The base-code alphabet of genomes and stores: A=0 C=1 G=2 T=3 N=4.

Stores hold these codes and the genome reader returns them, so the alphabet is part of
the file format; one-hot, k-mer and reverse-complement encodings built on it live in
:mod:`epitools.data.encoding`.
"""

from __future__ import annotations

import numpy as np

ALPHABET = "ACGT"
N_CODE = 4

# byte value -> base code; soft-masked lowercase maps like upper case, anything else is N
CODE_TABLE = np.full(256, N_CODE, dtype=np.uint8)
for _code, _base in enumerate(ALPHABET):
    CODE_TABLE[ord(_base)] = _code
    CODE_TABLE[ord(_base.lower())] = _code

# base code -> ASCII letter
LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)
