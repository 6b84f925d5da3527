"""Write Juicer ``.hic`` (v9) files: contacts through hictkpy, normalisation vectors appended.

hictkpy's ``hic.FileWriter`` writes the contacts and the observed expected values but no
normalisation vectors, which Juicer files carry (KR, SCALE, VC, VC_SQRT) and readers look up by
name. :func:`add_normalizations` appends them as Juicer's ``addNorm`` does (layout of the
aidenlab/hic-format v9 spec): the footer is read up to the end of the observed expected-value
vectors, and the normalised expected values, the normalisation-vector index and the vectors
are written from there on; the header's ``normVectorIndexPosition``/``Length`` are updated.
Vectors are divisive (``balanced = count / (v[i] * v[j])``), stored as float32 as v9 requires;
a bin whose value is 0 or NaN is masked.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import numpy as np

from epitools.errors import InputError
from epitools.io.atomic import atomic_path


def _read_str(buf: bytes, pos: int) -> tuple[str, int]:
    end = buf.index(b"\0", pos)
    return buf[pos:end].decode(), end + 1


def _read(fmt: str, buf: bytes, pos: int):
    size = struct.calcsize(fmt)
    return struct.unpack_from(fmt, buf, pos), pos + size


def _header(buf: bytes, path) -> dict:
    """Version, footer position, offset of the nvi fields and chromosome names (by index)."""
    if buf[:4] != b"HIC\0":
        raise InputError("not a .hic file (no HIC magic string)", path=path)
    (version, footer), pos = _read("<iq", buf, 4)
    if version != 9:
        raise InputError(f".hic version {version}: normalisation vectors are only appended to v9",
                         path=path)
    _, pos = _read_str(buf, pos)
    nvi_offset = pos
    pos += 16
    (n_attrs,), pos = _read("<i", buf, pos)
    for _ in range(2 * n_attrs):
        _, pos = _read_str(buf, pos)
    (n_chroms,), pos = _read("<i", buf, pos)
    names = []
    for _ in range(n_chroms):
        name, pos = _read_str(buf, pos)
        pos += 8
        names.append(name)
    return {"footer": footer, "nvi_offset": nvi_offset, "chroms": names}


def _end_of_observed_expected(buf: bytes, pos: int) -> int:
    """File offset just past the observed expected-value vectors of a v9 footer at ``pos``."""
    pos += 8  # nBytesV5
    (n_entries,), pos = _read("<i", buf, pos)
    for _ in range(n_entries):
        _, pos = _read_str(buf, pos)
        pos += 12
    (n_expected,), pos = _read("<i", buf, pos)
    for _ in range(n_expected):
        _, pos = _read_str(buf, pos)
        (_, n_values), pos = _read("<iq", buf, pos)
        pos += 4 * n_values
        (n_factors,), pos = _read("<i", buf, pos)
        pos += 8 * n_factors
    return pos


def diagonal_sums(bin1, bin2, counts, chrom_of_bin, vector, width: int) -> np.ndarray:
    """Sum of normalised cis contacts on each diagonal ``0..width-1`` of some pixels.

    Parameters
    ----------
    bin1, bin2 : int arrays (n,)
        Genome-wide bin ids of upper-triangle pixels.
    counts : array (n,)
    chrom_of_bin : int array (nbins,)
        Chromosome index of each bin.
    vector : float array (nbins,)
        Divisive normalisation vector; masked bins contribute nothing.
    width : int

    Returns
    -------
    float64 (width,)
    """
    b1 = np.asarray(bin1, dtype=np.int64)
    b2 = np.asarray(bin2, dtype=np.int64)
    cis = chrom_of_bin[b1] == chrom_of_bin[b2]
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.asarray(counts, dtype=np.float64)[cis] / (vector[b1[cis]] * vector[b2[cis]])
    value = np.where(np.isfinite(value), value, 0.0)
    return np.bincount(b2[cis] - b1[cis], weights=value, minlength=width)[:width]


def normalized_expected(sums, chrom_nbins) -> np.ndarray:
    """Juicer's normalised expected: diagonal sums over the cells of that diagonal, genome-wide."""
    d = np.arange(len(sums))
    cells = np.clip(np.asarray(chrom_nbins)[:, None] - d[None, :], 0, None).sum(0)
    return np.where(cells > 0, sums / np.maximum(cells, 1), 0.0)


def add_normalizations(path, resolution: int, vectors: dict, expected: dict) -> None:
    """Append divisive normalisation vectors to a v9 ``.hic`` that has none yet (in place).

    Parameters
    ----------
    path : str or os.PathLike
    resolution : int
        Resolution the vectors belong to.
    vectors : dict
        Normalisation name (``KR``, ``SCALE``, ``VC``, ``VC_SQRT``, ``ICE``...) -> dict of
        chromosome name -> float array (bins of that chromosome).
    expected : dict
        Normalisation name -> normalised expected value per diagonal (float array).
    """
    path = Path(path)
    buf = path.read_bytes()
    head = _header(buf, path)
    start = _end_of_observed_expected(buf, head["footer"])
    (n_norm_expected,), pos = _read("<i", buf, start)
    (n_norm_vectors,), _ = _read("<i", buf, pos)
    if n_norm_expected or n_norm_vectors:
        raise InputError("the .hic file already holds normalisation vectors", path=path)
    index_of = {name: i for i, name in enumerate(head["chroms"])}
    out = io.BytesIO()
    out.write(struct.pack("<i", len(vectors)))
    for name in vectors:
        values = np.asarray(expected[name], dtype="<f4")
        out.write(name.encode() + b"\0BP\0" + struct.pack("<iq", resolution, values.size))
        out.write(values.tobytes())
        # One factor of 1 per chromosome: the genome-wide expected holds for every chromosome.
        chroms = [index_of[c] for c in vectors[name]]
        out.write(struct.pack("<i", len(chroms)))
        out.write(b"".join(struct.pack("<if", i, 1.0) for i in chroms))
    entries = [(name, chrom, np.asarray(v, dtype="<f4")) for name, per_chrom in vectors.items()
               for chrom, v in per_chrom.items()]
    index_start = start + out.tell()
    index_size = 4 + sum(len(n) + 1 + 4 + 3 + 4 + 8 + 8 for n, _, _ in entries)
    position = index_start + index_size
    out.write(struct.pack("<i", len(entries)))
    for name, chrom, values in entries:
        if chrom not in index_of:
            raise InputError(f"chromosome {chrom} is not in the file", path=path)
        nbytes = 8 + 4 * values.size
        out.write(name.encode() + b"\0" + struct.pack("<i", index_of[chrom]) + b"BP\0"
                  + struct.pack("<iqq", resolution, position, nbytes))
        position += nbytes
    for _, _, values in entries:
        out.write(struct.pack("<q", values.size) + values.tobytes())
    with open(path, "r+b") as fh:
        fh.seek(start)
        fh.write(out.getvalue())
        fh.truncate()
        fh.seek(head["nvi_offset"])
        fh.write(struct.pack("<qq", index_start, index_size))


def write_hic(path, chrom_sizes: dict, resolution: int, pixel_chunks,
              normalizations: dict | None = None, assembly: str = "unknown") -> Path:
    """Write a single-resolution ``.hic`` (v9) from upper-triangle pixels, atomically.

    Parameters
    ----------
    path : str or os.PathLike
    chrom_sizes : dict
        Chromosome -> length, in file order.
    resolution : int
    pixel_chunks : iterable of (bin1, bin2, count)
        Int arrays (n,) of genome-wide bin ids (chromosomes in ``chrom_sizes`` order,
        ``bin1 <= bin2``) and counts, one chunk at a time.
    normalizations : dict, optional
        Name -> divisive genome-wide vector (nbins,); see :func:`add_normalizations`.
    assembly : str

    Returns
    -------
    Path
    """
    import hictkpy

    path = Path(path)
    nbins = np.array([-(-int(s) // resolution) for s in chrom_sizes.values()], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(nbins)])
    chrom_of_bin = np.repeat(np.arange(nbins.size), nbins)
    norms = {n: np.asarray(v, dtype=np.float64) for n, v in (normalizations or {}).items()}
    width = int(nbins.max())
    sums = {n: np.zeros(width) for n in norms}
    with atomic_path(path) as tmp:
        os.unlink(tmp)  # hictk refuses to overwrite
        writer = hictkpy.hic.FileWriter(str(tmp), {c: int(s) for c, s in chrom_sizes.items()},
                                        int(resolution), assembly=assembly, tmpdir=str(path.parent),
                                        compression_lvl=6, skip_all_vs_all_matrix=True)
        for bin1, bin2, counts in pixel_chunks:
            # hictkpy takes numpy only through pyarrow; plain lists avoid that dependency.
            writer.add_pixels_from_dict({"bin1_id": np.asarray(bin1, dtype=np.int64).tolist(),
                                         "bin2_id": np.asarray(bin2, dtype=np.int64).tolist(),
                                         "count": np.asarray(counts, dtype=np.int64).tolist()})
            for name, vector in norms.items():
                sums[name] += diagonal_sums(bin1, bin2, counts, chrom_of_bin, vector, width)
        writer.finalize()
        del writer
        if norms:
            per_chrom = {n: {c: v[offsets[i]:offsets[i + 1]] for i, c in enumerate(chrom_sizes)}
                         for n, v in norms.items()}
            expected = {n: normalized_expected(sums[n], nbins) for n in norms}
            add_normalizations(tmp, int(resolution), per_chrom, expected)
    return path


def cool_to_hic(cool, path, assembly: str | None = None, chunksize: int = 5_000_000) -> Path:
    """Convert a single-resolution cooler to ``.hic`` (v9) with its balancing columns.

    A multiplicative column (cooler's ``weight``) is stored inverted, as the divisive vector
    Juicer expects, under its ``.hic`` name (``weight`` -> ``ICE``); divisive columns (``KR``,
    ``SCALE``, ``VC``, ``VC_SQRT`` by cooler's rule or their ``divisive_weights`` attribute)
    are stored as they are. Pixels are streamed ``chunksize`` at a time.
    """
    import cooler

    from epitools.contacts.cooler_contacts import weights_are_divisive
    from epitools.contacts.hic_contacts import HIC_NORMALIZATION

    clr = cooler.Cooler(str(cool))
    bins = clr.bins()[:]
    norms = {}
    for column in bins.columns.drop(["chrom", "start", "end"]):
        w = bins[column].to_numpy(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            vector = w if weights_are_divisive(clr, column) else 1.0 / w
        norms[HIC_NORMALIZATION.get(column, column)] = np.where(np.isfinite(vector) & (vector > 0),
                                                                vector, np.nan)
    n = int(clr.info["nnz"])

    def chunks():
        for a in range(0, n, chunksize):
            pix = clr.pixels()[a:min(a + chunksize, n)]
            yield pix["bin1_id"].to_numpy(), pix["bin2_id"].to_numpy(), pix["count"].to_numpy()

    sizes = dict(zip(clr.chromnames, map(int, clr.chromsizes)))
    return write_hic(path, sizes, int(clr.binsize), chunks(), normalizations=norms,
                     assembly=assembly or str(clr.info.get("genome-assembly") or "unknown"))
