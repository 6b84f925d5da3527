"""Pairs tables as Parquet (``.parquet`` by suffix), and the fast whole-table text read.

The fast text read (one untyped parse, text columns made ``object`` afterwards) must give the
same table, file lines and errors as the typed read it replaces; a Parquet table must read to
the same canonical table as the text it was written from, with the same typed errors (its
"line" being the 1-based row number).
"""

from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import epitools.io.pairs.read as pairs_read
import epitools.io.pairs.text as pairs_text
from epitools.errors import InputError
from epitools.io.pairs import detect_format, iter_pairs, read_pairs, write_pairs, write_pairs_stream

HEADER = ("enhancer_chrom\tenhancer_start\tenhancer_end\tpromoter_chrom\tpromoter_start\tpromoter_end"
          "\tpair_id\tlabel\tgene\ttss\tcontact\tnote\tflag\n")


def _awkward_rows(n: int = 3000) -> list[str]:
    """Rows with the values a reader can get wrong: chromosome names that look like numbers,
    ids with leading zeros, every NA spelling, quoted fields holding the delimiter or a quote,
    booleans and a blank line (kept in the line count)."""
    rng = np.random.default_rng(3)
    na = ["", "NA", "NaN", "nan", "N/A", "null", "None"]
    rows = []
    for i in range(n):
        chrom = str(1 + i // 1000)  # "1", "2", "3": must stay text
        start = int(rng.integers(0, 10 ** 6))
        gene = na[i % 7] if i % 5 == 0 else f"G{i % 37:03d}"
        tss = "" if i % 11 == 0 else str(2_000_000 + i)
        contact = na[i % 7] if i % 13 == 0 else repr(float(rng.random()))
        note = '"a\tb"' if i % 17 == 5 else ('"say ""hi"""' if i % 19 == 0 else f"n{i % 4}")
        flag = "True" if i % 2 else "false"
        rows.append(f"{chrom}\t{start}\t{start + 200}\t{chrom}\t2000000\t2001000\t{i:07d}\t{i % 2}"
                    f"\t{gene}\t{tss}\t{contact}\t{note}\t{flag}\n")
    rows.insert(n // 2, "\n")
    return rows


def _typed(monkeypatch):
    """Make ``read_pairs`` take the typed read of before (``fast=False``)."""
    monkeypatch.setattr(pairs_read, "read_raw_chunks",
                        functools.partial(pairs_text.read_raw_chunks, fast=False))


def _count_fast(monkeypatch) -> list:
    """Record every table the fast parse returned (to prove the fast path ran)."""
    calls = []
    original = pairs_text._untyped_read

    def spy(*args, **kwargs):
        table = original(*args, **kwargs)
        calls.append(len(table))
        return table

    monkeypatch.setattr(pairs_text, "_untyped_read", spy)
    return calls


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    np.testing.assert_array_equal(a.attrs["source_lines"].lines, b.attrs["source_lines"].lines)


@pytest.mark.parametrize("variant", ["plain", "comments", "crlf", "gzip"])
def test_fast_text_read_equals_typed_read(tmp_path, monkeypatch, variant):
    text = HEADER + "".join(_awkward_rows())
    if variant == "comments":
        text = "# made by a test\n#second comment\n" + text
    if variant == "crlf":
        text = text.replace("\n", "\r\n")
    path = tmp_path / "pairs.tsv"
    if variant == "gzip":
        path = tmp_path / "pairs.tsv.bgz"  # gzip by content, not by suffix
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_bytes(text.encode())
    calls = _count_fast(monkeypatch)
    fast = read_pairs(path)
    assert calls == [3001]  # one parse, the blank line included
    with monkeypatch.context() as typed:
        _typed(typed)
        slow = read_pairs(path)
    assert len(calls) == 1
    _assert_same(fast, slow)
    assert fast["enhancer_chrom"].iloc[0] == "1" and fast["pair_id"].iloc[7] == "0000007"
    for column in ("enhancer_chrom", "pair_id", "gene", "note"):
        assert fast[column].dtype == object
    assert fast["gene"].isna().sum() == 600 and fast["tss"].isna().sum() == 273
    assert fast.loc[5, "note"] == "a\tb" and fast.loc[19, "note"] == 'say "hi"'
    skip = 3 if variant == "comments" else 1
    lines = fast.attrs["source_lines"].lines
    assert lines[0] == skip + 1 and lines[1500] == skip + 1502  # past the blank line


def test_fast_text_read_equals_typed_read_in_parallel(tmp_path, monkeypatch):
    # > 5 MB: pandas 3.1+ splits the parse over threads (where the machine has 2+ CPUs)
    from pandas.io.parsers import readers

    path = tmp_path / "large.tsv"
    # no blank line: its missing values give the bool column mixed types per block, and
    # pandas then parses the whole file serially
    path.write_text("# comment\n" + HEADER + "".join(r for r in _awkward_rows(90_000) if r != "\n"))
    assert path.stat().st_size > 5 * 2 ** 20
    parallel = []
    if hasattr(readers, "_read_csv_parallel"):
        original = readers._read_csv_parallel

        def spy(*args, **kwargs):
            table = original(*args, **kwargs)
            parallel.append(table is not None)
            return table

        monkeypatch.setattr(readers, "_read_csv_parallel", spy)
    fast = read_pairs(path)
    if hasattr(readers, "_default_n_workers") and readers._default_n_workers() > 1:
        assert parallel == [True]
    with monkeypatch.context() as typed:
        _typed(typed)
        slow = read_pairs(path)
    _assert_same(fast, slow)
    assert len(fast) == 90_000 and fast.attrs["source_lines"].lines[-1] == 90_002


def test_fast_text_read_warns_as_the_typed_read(tmp_path, monkeypatch):
    # the blank line's missing values make the bool column's blocks parse differently: both
    # reads warn about that column, and only about it
    import warnings

    path = tmp_path / "blank.tsv"
    path.write_text(HEADER + "".join(_awkward_rows(90_000)))
    caught = {}
    for fast in (True, False):
        with monkeypatch.context() as patch, warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            patch.setattr(pairs_read, "read_raw_chunks", functools.partial(pairs_text.read_raw_chunks, fast=fast))
            read_pairs(path)
        caught[fast] = sorted(str(w.message) for w in seen if issubclass(w.category, pd.errors.DtypeWarning))
    assert caught[True] == caught[False]


def test_fast_text_read_numeric_names_stay_text(tmp_path, monkeypatch):
    # every chromosome, id and gene looks like a number: the fast parse reads them again as text
    # ("1e3" is an integer written in floating point: both reads accept it as 1000)
    rows = "".join(f"{1 + i % 3}\t{i * 10}\t{i * 10 + 5}\t{1 + i % 3}\t900\t{'1e3' if i % 2 else 950}"
                   f"\t{i:03d}\t0\t{i:04d}\t\t1e3"
                   f"\t\t\n" for i in range(50))
    path = tmp_path / "numeric.tsv"
    path.write_text(HEADER + rows)
    fast = read_pairs(path)
    with monkeypatch.context() as typed:
        _typed(typed)
        slow = read_pairs(path)
    _assert_same(fast, slow)
    assert fast["pair_id"].iloc[5] == "005" and fast["gene"].iloc[5] == "0005"
    assert isinstance(fast["promoter_chrom"].iloc[0], str)


@pytest.mark.parametrize("bad, line, field", [
    ("chr1\t10\tx\tchr1\t900\t950\tp9\t0\tG\t\t\t\t\n", 5, "enhancer_end"),
    ("chr1\t10\tNA\tchr1\t900\t950\tp9\t0\tG\t\t\t\t\n", 5, "enhancer_end"),
    ("chr1\t10\t5\tchr1\t900\t950\tp9\t0\tG\t\t\t\t\n", 5, "enhancer_start"),
    ("chr1\t10\t20\tchr1\t900\n", 5, None),
    ("chr1\t10\t20\tchr1\t900\t950\tp1\t0\tG\t\t\t\t\n", 5, "pair_id"),
])
@pytest.mark.parametrize("gz", [False, True])
def test_fast_text_read_errors_name_the_line(tmp_path, monkeypatch, bad, line, field, gz):
    rows = [f"chr1\t{i * 10}\t{i * 10 + 5}\tchr1\t900\t950\tp{i}\t0\tG\t\t\t\t\n" for i in range(1, 4)]
    path = tmp_path / ("bad.tsv.gz" if gz else "bad.tsv")
    data = (HEADER + "".join(rows) + bad).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(InputError) as fast:
        read_pairs(path)
    with monkeypatch.context() as typed:
        _typed(typed)
        with pytest.raises(InputError) as slow:
            read_pairs(path)
    assert str(fast.value) == str(slow.value)
    assert fast.value.line == line and f"line {line}" in str(fast.value) and str(path) in str(fast.value)
    if field is not None:
        assert fast.value.field == field


# --------------------------------------------------------------------------- Parquet

def _canonical_tsv(tmp_path) -> Path:
    path = tmp_path / "pairs.tsv"
    # no blank line: its missing values would leave the text read's bool column object-typed
    path.write_text(HEADER + "".join(row for row in _awkward_rows(600) if row != "\n"))
    return path


def test_parquet_round_trip_equals_text_read(tmp_path):
    text = read_pairs(_canonical_tsv(tmp_path))
    out = tmp_path / "pairs.parquet"
    write_pairs(text, out)
    assert detect_format(out) == "canonical"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    table = read_pairs(out)
    pd.testing.assert_frame_equal(table, text, check_exact=True)
    # a Parquet row's "line" is its 1-based row number
    np.testing.assert_array_equal(table.attrs["source_lines"].lines, np.arange(1, len(text) + 1))
    chunks = list(iter_pairs(out, chunksize=70))
    assert [len(c) for c in chunks][:2] == [70, 70]
    pd.testing.assert_frame_equal(pd.concat(chunks), text, check_exact=True)
    # streamed writes: one frame at a time, the same table
    streamed = tmp_path / "streamed.parquet"
    assert write_pairs_stream(iter_pairs(out, chunksize=250), streamed) == len(text)
    assert pq.ParquetFile(streamed).metadata.num_row_groups == 3
    pd.testing.assert_frame_equal(read_pairs(streamed), text, check_exact=True)


def test_parquet_bedpe_layout_reads_back(tmp_path):
    text = read_pairs(_canonical_tsv(tmp_path))
    write_pairs(text, tmp_path / "pairs.bedpe", format="bedpe")
    write_pairs(text, tmp_path / "pairs.bedpe.parquet", format="bedpe")
    assert detect_format(tmp_path / "pairs.bedpe.parquet") == "bedpe"
    pd.testing.assert_frame_equal(read_pairs(tmp_path / "pairs.bedpe.parquet"),
                                  read_pairs(tmp_path / "pairs.bedpe"), check_exact=True)


def _frame(**columns) -> pd.DataFrame:
    base = {"enhancer_chrom": ["chr1", "chr1", "chr1"], "enhancer_start": [10, 20, 30],
            "enhancer_end": [15, 25, 35], "promoter_chrom": ["chr1", "chr1", "chr1"],
            "promoter_start": [900, 900, 900], "promoter_end": [950, 950, 950]}
    base.update(columns)
    return pd.DataFrame({k: v for k, v in base.items() if v is not None})


@pytest.mark.parametrize("columns, row, field, message", [
    ({"promoter_end": None}, None, "promoter_end", "missing required column 'promoter_end'"),
    ({"enhancer_start": [10, 20.5, 30]}, 2, "enhancer_start", "not an integer"),
    ({"enhancer_start": ["10", "20", "x"]}, 3, "enhancer_start", "not an integer"),
    ({"enhancer_end": [15, 25, None]}, 3, "enhancer_end", "missing value"),
    ({"label": [0, 2, 1]}, 2, "label", "label must be 0 or 1"),
    ({"pair_id": ["a", "b", "a"]}, 3, "pair_id", "duplicate pair_id, first seen on line 1"),
])
def test_bad_parquet_names_file_and_row(tmp_path, columns, row, field, message):
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pandas(_frame(**columns), preserve_index=False), path)
    for read in (read_pairs, lambda p: pd.concat(iter_pairs(p, chunksize=1))):
        with pytest.raises(InputError) as err:
            read(path)
        text = str(err.value)
        assert err.value.path == str(path) and str(path) in text
        assert err.value.field == field and message in text
        assert err.value.line == row
        if row is not None:
            assert f"line {row}" in text and "Parquet" in text and "1-based row number" in text


def test_unreadable_parquet_is_an_input_error(tmp_path):
    path = tmp_path / "pairs.parquet"
    path.write_text("enhancer_chrom\tenhancer_start\n")  # text under a Parquet name
    with pytest.raises(InputError, match="Parquet") as err:
        read_pairs(path)
    assert err.value.path == str(path)


def test_parquet_stream_write_is_atomic(tmp_path):
    good = _frame(pair_id=["a", "b", "c"])

    def frames():
        yield good
        yield good.drop(columns="pair_id")  # columns differ: the write fails

    out = tmp_path / "out.parquet"
    with pytest.raises(InputError, match="cannot append"):
        write_pairs_stream(frames(), out)
    assert os.listdir(tmp_path) == []
    # a first frame whose text column is missing throughout takes later text values
    parts = [good.assign(gene=[None, None, None]), good.assign(pair_id=["d", "e", "f"], gene=["G1", None, "G2"])]
    assert write_pairs_stream(iter(parts), out) == 6
    back = read_pairs(out)
    assert back["gene"].iloc[3] == "G1" and back["gene"].iloc[5] == "G2"
    assert back["gene"].isna().sum() == 4 and back["gene"].dtype == object


def test_candidates_contacts_abc_chain_through_parquet_equals_tsv(simulated, tmp_path):
    # A user's chain with -o x.parquet at every step gives the TSV chain's scores.
    from click.testing import CliRunner

    from epitools.cli.candidates import main as candidates_cli
    from epitools.cli.contacts import main as contacts_cli
    from epitools.cli.prioritize import main as prioritize_cli

    runner = CliRunner()
    for suffix in ("tsv", "parquet"):
        steps = [(candidates_cli, ["pairs", "--elements", str(simulated / "elements.bed"),
                                   "--genes", str(simulated / "genes.tsv"), "-o", str(tmp_path / f"pairs.{suffix}")]),
                 (contacts_cli, ["--pairs", str(tmp_path / f"pairs.{suffix}"), "--hic", str(simulated / "hic.cool"),
                                 "-o", str(tmp_path / f"contacts.{suffix}")]),
                 (prioritize_cli, ["abc", "--pairs", str(tmp_path / f"contacts.{suffix}"),
                                   "--dnase", str(simulated / "dnase.bedGraph"), "-o", str(tmp_path / f"abc.{suffix}")])]
        for command, args in steps:
            result = runner.invoke(command, args)
            assert result.exit_code == 0, result.output
    assert pq.read_schema(tmp_path / "abc.parquet").names  # a real Parquet file, not TSV bytes
    text, columnar = read_pairs(tmp_path / "abc.tsv"), read_pairs(tmp_path / "abc.parquet")
    assert len(text) > 100 and list(text.columns) == list(columnar.columns)
    np.testing.assert_allclose(columnar["abc_score"].to_numpy(float), text["abc_score"].to_numpy(float), rtol=1e-12)
    assert (columnar["pair_id"].to_numpy() == text["pair_id"].to_numpy()).all()
