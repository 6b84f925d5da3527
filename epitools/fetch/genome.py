"""A fetched UCSC genome made usable: bgzipped, ``faidx``-indexed, checked against its sizes."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

from epitools.errors import GenomeError


def parse_md5sums(text: str) -> dict[str, str]:
    """file name -> md5 from an ``md5sum.txt`` listing (``<md5>  [*]<path>`` per line)."""
    md5s = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and re.fullmatch(r"[0-9a-fA-F]{32}", parts[0]):
            md5s[parts[1].lstrip("*").split("/")[-1]] = parts[0].lower()
    return md5s


def is_bgzf(path) -> bool:
    """Whether ``path`` starts with a BGZF block (gzip that samtools can index as is)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    # gzip magic, FEXTRA flag, and the 'BC' subfield that marks a BGZF block.
    return bool(len(head) == 16 and head[:3] == b"\x1f\x8b\x08" and head[3] & 4 and head[12:14] == b"BC")


def build_indexed_genome(fasta: Path, sizes: Path, directory: Path, assembly: str) -> list[str]:
    """bgzip + faidx the FASTA into ``directory`` and check it against the chrom sizes.

    Returns
    -------
    list of str
        The file names written: ``<assembly>.fa.gz`` and its ``.fai`` / ``.gzi``, and
        ``<assembly>.chrom.sizes``.

    Raises
    ------
    GenomeError
        A FASTA that cannot be decompressed or indexed, or whose sequence lengths
        disagree with the chrom sizes file (file, line and field named).
    """
    import pysam

    out = directory / f"{assembly}.fa.gz"
    if is_bgzf(fasta):
        shutil.copyfile(fasta, out)
    else:
        with open(fasta, "rb") as probe:
            gzipped = probe.read(2) == b"\x1f\x8b"
        opener = gzip.open if gzipped else open
        try:
            with opener(fasta, "rb") as src, pysam.BGZFile(str(out), "wb") as dst:
                for block in iter(lambda: src.read(1 << 22), b""):
                    dst.write(block)
        except (OSError, EOFError) as exc:
            raise GenomeError(f"cannot decompress: {exc}", fasta) from exc
    try:
        pysam.faidx(str(out))
    except pysam.SamtoolsError as exc:
        raise GenomeError(f"not a FASTA file that samtools can index: {exc}", fasta) from exc
    shutil.copyfile(sizes, directory / f"{assembly}.chrom.sizes")
    check_chrom_sizes(Path(f"{out}.fai"), sizes)
    return [out.name, f"{out.name}.fai", f"{out.name}.gzi", f"{assembly}.chrom.sizes"]


def check_chrom_sizes(fai: Path, sizes: Path) -> None:
    """Raise GenomeError where ``sizes`` gives a length other than the ``.fai`` index does."""
    indexed = {}
    for line in fai.read_text().splitlines():
        name, length = line.split("\t")[:2]
        indexed[name] = int(length)
    for number, line in enumerate(sizes.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2 or not parts[1].strip().isdigit():
            raise GenomeError("expected 'name<TAB>length'", sizes, number)
        name, length = parts[0], int(parts[1])
        if name in indexed and indexed[name] != length:
            raise GenomeError(f"{name} is {length} bp here but {indexed[name]} bp in the FASTA",
                              sizes, number, "length")
