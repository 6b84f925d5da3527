"""Enhancer–promoter pair tables: read every published layout into one canonical table.

The canonical table has one row per pair and the columns

``enhancer_chrom enhancer_start enhancer_end promoter_chrom promoter_start promoter_end``
    0-based, half-open coordinates (int64),
``pair_id``
    always present (str),

then, when the source has them, ``label`` (int64, 0/1), ``cell_type``, ``gene``, ``tss``,
``distance`` (always present: kept from the source or computed), ``enhancer_seq`` and
``promoter_seq`` (upper case), and any other source column unchanged. Text columns hold plain
Python ``str`` (``object`` dtype, as on pandas 2) on every pandas version: that skips pandas 3's
per-element string validation and keeps names cheap to check.

Formats (``format=``; ``"auto"`` detects from the header, columns and file name):

``canonical``
    tab- or comma-separated table with a header naming the six coordinate columns.
``bedpe``
    ``chrom1 start1 end1 chrom2 start2 end2 [name score strand1 strand2 ...]``; side 1 is the
    enhancer, ``name`` becomes ``pair_id``. A ``#chrom1 ...`` header line names extra columns.
``targetfinder``
    TargetFinder ``pairs.csv`` (``enhancer_name``, ``promoter_name``, optional coordinate
    columns, ``enhancer_distance_to_promoter``, ``label``, ``window_*`` ...) or the 3-column
    name table ``enhancer_name,promoter_name,label``; names are ``CELL|chrN:start-end``.
``bengi``
    headerless BENGI / TransEPI / Hi-C-loop tables: label, distance, enhancer chrom/start/end/name,
    promoter chrom/start/end/name. Zero-length anchors (``start == end``, as the Hi-C-loop files
    write them) are read as the 1-bp interval ``[end - 1, end)`` their name gives. ``cell_type``
    comes from the names (``chr:start-end|CELL|...``); ``gene`` (the ENSG id, else the symbol
    after an ENST id) and ``tss`` (the name's position) from transcript promoter names.
``sequences``
    tables with inline sequences (``enhancer_seq``/``promoter_seq`` or the gcn4epi
    ``*_frag_seq`` columns); coordinates come from the coordinate columns or else from the
    fragment names (``*_frag_name``), else the element names; without a ``label`` column the
    label is taken from the file name (``_1_`` interacting, ``_0_`` not).
``windows``
    an enhancer window BED and a promoter window BED in the same row order plus an optional
    labels file (one 0/1 per line); see :func:`read_window_pairs`.

Parquet: a file whose name ends in ``.parquet`` is read as a Parquet table with the column
names of the canonical, BEDPE, TargetFinder or inline-sequence layouts (detected from its
schema), and :func:`write_pairs` / :func:`write_pairs_stream` write one for such an output
name. It reads to the same canonical table as the text it was written from, through the same
checks; errors name the 1-based row number as the "line" (and say so). Streamed reads
(:func:`iter_pairs`) go a row group at a time.

``pair_id`` when the source has none: ``"{enhancer_chrom}:{enhancer_start}-{enhancer_end}|"
"{promoter_chrom}:{promoter_start}-{promoter_end}"`` (canonical coordinates); the k-th repeat
(k >= 2) of the same coordinates in one file gets the suffix ``#k``, so ids are unique, stable
and independent of the chunk size.

Every error in the input raises :class:`~epitools.errors.InputError` naming the file, the
1-based line in that file (header included) and the field; a bad argument raises
:class:`~epitools.errors.UsageError`.

A whole-table text read (:func:`read_pairs`) parses once without a dtype map (pandas 3's
parallel reader), then makes the text columns ``object``; a file that parse rejects is read
again with the column types given, which names the bad line. :func:`iter_pairs` with a
chunk size reads through pandas' chunked reader.

Modules: :mod:`.columns` (canonical column names), :mod:`.text` (plain/gzip text access and
line-numbered chunks), :mod:`.detect` (format detection and layouts), :mod:`.read`
(single-file formats), :mod:`.windows` (window-BED pairs), :mod:`.validate` (checks and
``pair_id``), :mod:`.write` (output formats), :mod:`.delimited` (fast text writing),
:mod:`.chromosomes` (one chromosome at a time). This package reads formats only: it imports
nothing above :mod:`epitools.io`.
"""

from epitools.io.pairs.chromosomes import UngroupedPairsError, iter_chromosome_frames
from epitools.io.pairs.columns import COORD_COLUMNS, FORMATS, OPTIONAL_COLUMNS
from epitools.io.pairs.detect import detect_format
from epitools.io.pairs.read import iter_pairs, read_pairs
from epitools.io.pairs.windows import read_window_pairs
from epitools.io.pairs.write import write_pairs, write_pairs_stream

__all__ = [
    "COORD_COLUMNS", "FORMATS", "OPTIONAL_COLUMNS", "UngroupedPairsError",
    "detect_format", "iter_chromosome_frames", "iter_pairs", "read_pairs", "read_window_pairs",
    "write_pairs", "write_pairs_stream",
]
