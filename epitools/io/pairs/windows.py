"""Window-BED pairs: an enhancer window BED and a promoter window BED in the same row order,
plus an optional labels file (one 0/1 per line), read in step as canonical chunks.

Errors name the file, line and field where the bad value is, whichever of the three files
that is.
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np
import pandas as pd

from epitools.errors import InputError
from epitools.io.pairs.text import (
    READ_CHUNK_ROWS,
    TableLayout,
    concat_chunks,
    delimiter,
    is_int,
    is_label,
    read_raw_chunks,
    sniff,
    split_fields,
)
from epitools.io.pairs.validate import PairValidator


def read_window_pairs(enhancer_bed, promoter_bed, labels=None, cell_type: str | None = None,
                      one_based: bool = True) -> pd.DataFrame:
    """Pairs from an enhancer window BED and a promoter window BED in the same row order.

    Each BED is ``label chrom start end`` (the EPINTLM layout) or ``chrom start end [...]``.
    With ``one_based`` (default; the EPINTLM files) ``start`` and ``end`` are 1-based inclusive
    and become 0-based half-open (``start - 1, end``). ``labels`` is a file with one 0/1 per line;
    without it the BED label column is used. Label columns that disagree are an error.

    Returns
    -------
    pandas.DataFrame
        (N, ...) canonical table.
    """
    return concat_chunks(iter_window_chunks(enhancer_bed, promoter_bed, labels, READ_CHUNK_ROWS,
                                            cell_type, one_based))


def _bed_layout(path) -> tuple[TableLayout, bool]:
    _, lines, skip = sniff(path)
    sep = delimiter(lines[0])
    fields = split_fields(lines[0], sep)
    labelled = len(fields) >= 4 and is_label(fields[0]) and not is_int(fields[1])
    if labelled:
        names = ["label", "chrom", "start", "end"] + [f"column_{i + 1}" for i in range(4, len(fields))]
    elif len(fields) >= 3:
        names = ["chrom", "start", "end"] + [f"column_{i + 1}" for i in range(3, len(fields))]
    else:
        raise InputError(f"a window BED needs chrom, start, end; found {len(fields)} fields",
                         path=path, line=skip + 1)
    return TableLayout(path, sep, names, skip), labelled


def _side_frame(raw: pd.DataFrame, side: str, one_based: bool) -> pd.DataFrame:
    out = pd.DataFrame({
        f"{side}_chrom": raw["chrom"],
        f"{side}_start": raw["start"],
        f"{side}_end": raw["end"],
    })
    if one_based:
        start = pd.to_numeric(raw["start"], errors="coerce")
        ok = start.notna() & ((start % 1) == 0) & (start < 2 ** 63)
        # Shift only values that are int64 integers; anything else is reported by the validator as is.
        out[f"{side}_start"] = raw["start"].astype(object).where(
            ~ok.to_numpy(), (start[ok] - 1).astype("Int64").astype(str).reindex(raw.index))
    return out


def iter_window_chunks(enhancer_bed, promoter_bed, labels, chunksize: int, cell_type: str | None,
                       one_based: bool) -> Iterator[pd.DataFrame]:
    """Stream window-BED pairs as validated canonical chunks of at most ``chunksize`` rows.

    The files are read in step; one that runs out of rows before the others is an
    :class:`InputError` at the first unpaired line. Arguments as in :func:`read_window_pairs`.
    """
    enh_layout, enh_labelled = _bed_layout(enhancer_bed)
    pro_layout, pro_labelled = _bed_layout(promoter_bed)
    str_cols = {"label", "chrom", "start", "end"}
    readers = {
        "enhancer": read_raw_chunks(enh_layout, chunksize, str_cols),
        "promoter": read_raw_chunks(pro_layout, chunksize, str_cols),
    }
    sources = {"enhancer": (os.fspath(enhancer_bed), 0), "promoter": (os.fspath(promoter_bed), 0)}
    if labels is not None:
        _, _, lab_skip = sniff(labels)
        lab_layout = TableLayout(labels, "\t", ["label"], lab_skip)
        readers["label"] = read_raw_chunks(lab_layout, chunksize, {"label"})
        sources["label"] = (os.fspath(labels), 0)
    elif enh_labelled:
        sources["label"] = (os.fspath(enhancer_bed), 0)
    validate = PairValidator(enhancer_bed, cell_type=cell_type, sources=sources)
    buffers = {name: None for name in readers}
    done = {name: False for name in readers}
    while True:
        for name, reader in readers.items():
            if not done[name] and (buffers[name] is None or len(buffers[name]) < chunksize):
                try:
                    nxt = next(reader)
                    buffers[name] = nxt if buffers[name] is None else pd.concat(
                        [buffers[name], nxt], ignore_index=True)
                except StopIteration:
                    done[name] = True
        sizes = {n: 0 if b is None else len(b) for n, b in buffers.items()}
        take = min(min(sizes.values()), chunksize)
        if take == 0:
            left = {n: s for n, s in sizes.items() if s}
            if left:
                name = next(iter(left))
                short = next(n for n, s in sizes.items() if s == 0)
                first = buffers[name]["_line"].iloc[0]
                paths = {"enhancer": enhancer_bed, "promoter": promoter_bed, "label": labels}
                raise InputError(f"has more rows than {os.fspath(paths[short])}", path=paths[name],
                                 line=int(first), field=None)
            return
        parts = {n: buffers[n].iloc[:take].reset_index(drop=True) for n in buffers}
        buffers = {n: buffers[n].iloc[take:].reset_index(drop=True) for n in buffers}
        enh, pro = parts["enhancer"], parts["promoter"]
        chunk = pd.concat([_side_frame(enh, "enhancer", one_based),
                           _side_frame(pro, "promoter", one_based)], axis=1)
        chunk.insert(0, "_line", enh["_line"].to_numpy())
        # Line deltas let errors point at the same row in the other files.
        sources["promoter"] = (os.fspath(promoter_bed), int(pro["_line"].iloc[0] - enh["_line"].iloc[0]))
        label_source = None
        if "label" in parts:
            label_source = parts["label"]
            sources["label"] = (os.fspath(labels), int(label_source["_line"].iloc[0] - enh["_line"].iloc[0]))
            chunk["label"] = label_source["label"].to_numpy()
            _check_agree(label_source, enh if enh_labelled else None, labels, enhancer_bed)
        elif enh_labelled:
            chunk["label"] = enh["label"].to_numpy()
        if pro_labelled and (enh_labelled or "label" in parts):
            reference = label_source if label_source is not None else enh
            _check_agree(reference, pro, None, promoter_bed, report_other=True)
        yield validate(chunk)


def _check_agree(labels_part: pd.DataFrame, bed_part, labels_path, bed_path, report_other=False):
    """Raise when a BED label column disagrees with the labels it is paired with."""
    if bed_part is None:
        return
    a = pd.to_numeric(labels_part["label"], errors="coerce").to_numpy()
    b = pd.to_numeric(bed_part["label"], errors="coerce").to_numpy()
    differ = (a != b) & ~np.isnan(a) & ~np.isnan(b)
    if differ.any():
        row = int(np.flatnonzero(differ)[0])
        if report_other:
            path, line = bed_path, int(bed_part["_line"].iloc[row])
        else:
            path, line = labels_path, int(labels_part["_line"].iloc[row])
        raise InputError(f"label {labels_part['label'].iloc[row]} disagrees with label "
                         f"{bed_part['label'].iloc[row]} in the paired file", path=path, line=line,
                         field="label")
