"""Genome access: FASTA (plain, bgzip), 2bit, aliases, N padding, errors."""

from __future__ import annotations

import logging
import re
import struct

import numpy as np
import pysam
import pytest

from epitools.data.encoding import decode_codes
from epitools.errors import GenomeError
from epitools.io.genome import Genome


def random_chroms(sizes: dict, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {name: "".join(rng.choice(list("ACGT"), size)) for name, size in sizes.items()}


def write_fasta(path, seqs: dict, width: int = 60) -> None:
    with open(path, "w") as fh:
        for name, seq in seqs.items():
            fh.write(f">{name}\n")
            for i in range(0, len(seq), width):
                fh.write(seq[i:i + width] + "\n")


def write_twobit(path, seqs: dict) -> None:
    """Minimal 2bit writer (UCSC format, little endian): N blocks, no mask blocks."""
    pack = {"T": 0, "C": 1, "A": 2, "G": 3}
    names = list(seqs)
    header = struct.pack("<IIII", 0x1A412743, 0, len(names), 0)
    index_size = sum(1 + len(n) + 4 for n in names)
    records, offset = [], len(header) + index_size
    index = b""
    for name in names:
        seq = seqs[name].upper()
        n_runs = [(m.start(), m.end() - m.start()) for m in re.finditer("N+", seq)]
        bases = [pack.get(b, 0) for b in seq] + [0] * (-len(seq) % 4)
        packed = bytes((bases[i] << 6) | (bases[i + 1] << 4) | (bases[i + 2] << 2) | bases[i + 3]
                       for i in range(0, len(bases), 4))
        rec = struct.pack("<II", len(seq), len(n_runs))
        rec += b"".join(struct.pack("<I", s) for s, _ in n_runs)
        rec += b"".join(struct.pack("<I", n) for _, n in n_runs)
        rec += struct.pack("<II", 0, 0) + packed
        index += struct.pack("<B", len(name)) + name.encode() + struct.pack("<I", offset)
        records.append(rec)
        offset += len(rec)
    with open(path, "wb") as fh:
        fh.write(header + index + b"".join(records))


@pytest.fixture
def seqs():
    out = random_chroms({"chr1": 1000, "chr2": 333, "chrM": 120})
    out["chr2"] = out["chr2"][:100] + "N" * 20 + out["chr2"][120:]
    return out


@pytest.fixture
def fasta(tmp_path, seqs):
    path = tmp_path / "genome.fa"
    write_fasta(path, seqs)
    return path


def test_fetch_matches_fasta(fasta, seqs):
    g = Genome(fasta)
    assert g.chrom_sizes == {"chr1": 1000, "chr2": 333, "chrM": 120}
    assert decode_codes(g.fetch_codes("chr1", 123, 456)) == seqs["chr1"][123:456]
    assert decode_codes(g.fetch_codes("chr2", 90, 130)) == seqs["chr2"][90:130]
    windows = g.fetch_windows(["chr1", "chr2", "chr1"], [0, 200, 900], 100)
    assert windows.shape == (3, 100) and windows.dtype == np.uint8
    assert [decode_codes(w) for w in windows] == [seqs["chr1"][:100], seqs["chr2"][200:300],
                                                 seqs["chr1"][900:1000]]
    assert g.n_padded == 0


def test_n_padding_at_both_ends_is_counted(fasta, seqs):
    g = Genome(fasta)
    w = g.fetch_windows(["chr1", "chr1", "chr1", "chrM"], [-30, 950, 400, -10], 100)
    assert decode_codes(w[0]) == "N" * 30 + seqs["chr1"][:70]
    assert decode_codes(w[1]) == seqs["chr1"][950:] + "N" * 50
    assert decode_codes(w[2]) == seqs["chr1"][400:500]
    assert decode_codes(w[3]) == "N" * 10 + seqs["chrM"][:90]
    assert g.n_padded == 3
    assert decode_codes(g.fetch_codes("chrM", 100, 130)) == seqs["chrM"][100:] + "N" * 10
    assert g.n_padded == 4


def test_aliases_resolved_and_logged_once(fasta, seqs, caplog):
    g = Genome(fasta)
    with caplog.at_level(logging.INFO, logger="epitools.io.genome"):
        assert g.resolve("1") == "chr1"
        assert g.resolve("MT") == "chrM"
        for _ in range(3):
            assert decode_codes(g.fetch_codes("1", 0, 10)) == seqs["chr1"][:10]
    alias_lines = [r.getMessage() for r in caplog.records if "alias" in r.getMessage()]
    assert len(alias_lines) == 2
    assert g.aliases_used == {"1": "chr1", "MT": "chrM"}


def test_alias_from_chr_to_bare_names(tmp_path):
    path = tmp_path / "bare.fa"
    write_fasta(path, {"1": "ACGT" * 10, "MT": "GGCC" * 5})
    g = Genome(path)
    assert g.resolve("chr1") == "1" and g.resolve("chrM") == "MT"


def test_unknown_chromosome_lists_known_names(fasta):
    g = Genome(fasta)
    with pytest.raises(GenomeError) as err:
        g.fetch_codes("chr9", 0, 10)
    msg = str(err.value)
    assert "chr9" in msg and "chr1" in msg and "chrM" in msg and str(fasta) in msg


def test_bgzip_fasta(tmp_path, fasta, seqs):
    gz = tmp_path / "genome.fa.gz"
    pysam.tabix_compress(str(fasta), str(gz))
    g = Genome(gz)
    assert g.chrom_sizes["chr2"] == 333
    assert decode_codes(g.fetch_codes("chr2", 50, 250)) == seqs["chr2"][50:250]


def test_twobit(tmp_path, seqs):
    path = tmp_path / "genome.2bit"
    write_twobit(path, seqs)
    g = Genome(path)
    assert g.chrom_sizes == {"chr1": 1000, "chr2": 333, "chrM": 120}
    assert decode_codes(g.fetch_codes("chr2", 0, 333)) == seqs["chr2"]
    w = g.fetch_windows(["chrM", "chr1"], [100, 10], 50)
    assert decode_codes(w[0]) == seqs["chrM"][100:] + "N" * 30
    assert decode_codes(w[1]) == seqs["chr1"][10:60]


def test_missing_or_bad_genome_file(tmp_path):
    with pytest.raises(GenomeError, match="not found"):
        Genome(tmp_path / "nope.fa")
    bad = tmp_path / "bad.fa"
    bad.write_text("this is not a fasta\n")
    with pytest.raises(GenomeError):
        Genome(bad)


def test_indexes_are_built_in_the_cache_not_beside_the_input(tmp_path, fasta, seqs, monkeypatch):
    """Nothing is written next to a user's genome: a missing .fai (and bgzip .gzi) goes to
    $EPITOOLS_CACHE/index, keyed by the file, and an existing index beside it is used."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("EPITOOLS_CACHE", str(cache))
    folder = tmp_path / "ref"
    folder.mkdir()
    plain = folder / "genome.fa"
    plain.write_bytes(fasta.read_bytes())
    gz = folder / "genome.fa.gz"
    pysam.tabix_compress(str(fasta), str(gz))
    before = sorted(p.name for p in folder.iterdir())
    for path in (plain, gz):
        with Genome(path) as g:
            assert decode_codes(g.fetch_codes("chr2", 50, 250)) == seqs["chr2"][50:250]
    assert sorted(p.name for p in folder.iterdir()) == before
    built = sorted(p.suffix for p in (cache / "index").iterdir())
    assert built.count(".fai") == 2 and ".gzi" in built
    (folder / "genome.fa.fai").write_bytes(next((cache / "index").glob("genome.fa.*.fai")).read_bytes())
    for index in (cache / "index").iterdir():
        index.unlink()
    with Genome(plain) as g:  # the user's own index is read, none is built
        assert g.chrom_sizes["chr1"] == 1000
    assert not any(p.name.startswith("genome.fa.") and p.suffix == ".fai" for p in (cache / "index").iterdir())
