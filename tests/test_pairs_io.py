"""Pairs tables: every input layout to the canonical table, validation, streaming, writing."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from epitools.errors import InputError, UsageError
from epitools.io.pairs import (
    COORD_COLUMNS,
    detect_format,
    iter_pairs,
    read_pairs,
    read_window_pairs,
    write_pairs,
)

CANONICAL = (
    "enhancer_chrom\tenhancer_start\tenhancer_end\tpromoter_chrom\tpromoter_start\tpromoter_end"
    "\tlabel\tcontact\n"
    "chr1\t100\t300\tchr1\t5000\t7000\t1\t0.5\n"
    "chr1\t400\t600\tchr1\t5000\t7000\t0\t0.25\n"
    "chr2\t1000\t1500\tchr2\t9000\t9100\t0\t0.125\n"
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _expect_error(path, line, field, **kwargs) -> InputError:
    with pytest.raises(InputError) as err:
        read_pairs(path, **kwargs)
    message = str(err.value)
    assert err.value.path == str(path) and str(path) in message
    assert err.value.line == line and f"line {line}" in message
    assert err.value.field == field and f"'{field}'" in message
    return err.value


# --------------------------------------------------------------------------- real data

def test_bengi_k562_hic(shared_data):
    df = read_pairs(shared_data / "epi_pairs/BENGI_hg19/K562.HiC-Benchmark.v3.tsv.gz")
    assert len(df) == 76_064
    assert int(df["label"].sum()) == 2_765
    assert list(df.columns[:7]) == [*COORD_COLUMNS, "pair_id"]
    assert df["pair_id"].is_unique
    assert (df["cell_type"] == "K562").all()
    assert (df["enhancer_chrom"] == df["promoter_chrom"]).all()
    first = df.iloc[0]
    assert (first.enhancer_start, first.enhancer_end) == (154577, 155481)
    assert first.gene == "ENSG00000086506.2" and first.tss == 230451 and first.distance == 75423


def test_transepi_crispr_keeps_gene_symbol(shared_data):
    df = read_pairs(shared_data / "crispr/TransEPI_K562-crispr.v1.hg19.tsv")
    assert int(df["label"].sum()) == 218
    assert df.loc[0, "gene"] == "GPAT3"
    assert (df["tss"] == df["promoter_start"]).all()


def test_epintlm_window_beds(shared_data):
    root = shared_data / "epi_pairs/TargetFinder_HeLa-S3_test_EPINTLM"
    df = read_pairs(root / "HeLa-S3_enhancer_test.bed", promoter_bed=root / "HeLa-S3_promoter_test.bed",
                    labels=root / "HeLa-S3_label_test.txt", cell_type="HeLa-S3")
    assert len(df) == 3_654
    assert int(df["label"].sum()) == 174
    assert set(df["enhancer_end"] - df["enhancer_start"]) == {3000}
    assert set(df["promoter_end"] - df["promoter_start"]) == {2000}
    # 1-based inclusive 29211436..29214435 -> 0-based half-open 29211435..29214435
    assert (df.loc[0, "enhancer_start"], df.loc[0, "enhancer_end"]) == (29211435, 29214435)
    assert (df["cell_type"] == "HeLa-S3").all()


@pytest.mark.parametrize("name, rows, label", [
    ("frag_pairs_1_200.csv.gz", 5_752, 1),
    ("frag_pairs_0_200_balanced.csv.gz", 218, 0),
])
def test_gcn4epi_sequence_tables(shared_data, name, rows, label):
    path = shared_data / "epi_sequences/gcn4epi_fragment_pairs/IMR90" / name
    assert detect_format(path) == "sequences"
    df = read_pairs(path)
    assert len(df) == rows
    assert (df["label"] == label).all()
    assert (df["cell_type"] == "IMR90").all()
    assert df["enhancer_seq"].str.len().eq(200).all() and df["promoter_seq"].str.len().eq(200).all()
    assert not df["enhancer_seq"].str.contains("[^ACGTN]").any()
    if label == 1:  # fragment coordinates, not the element's
        assert (df["enhancer_end"] - df["enhancer_start"]).eq(200).all()


# --------------------------------------------------------------------------- formats

def test_canonical_table_keeps_features_and_computes_distance(tmp_path):
    df = read_pairs(_write(tmp_path / "pairs.tsv", CANONICAL))
    assert len(df) == 3 and list(df.index) == [0, 1, 2]
    assert df["enhancer_start"].dtype == np.int64
    assert df["contact"].tolist() == [0.5, 0.25, 0.125]
    # |enhancer midpoint - promoter midpoint|
    assert df["distance"].tolist() == [5800, 5500, 7800]
    assert df.loc[0, "pair_id"] == "chr1:100-300|chr1:5000-7000"


def test_distance_uses_tss_and_kept_when_given(tmp_path):
    text = ("enhancer_chrom,enhancer_start,enhancer_end,promoter_chrom,promoter_start,promoter_end,tss\n"
            "chr1,100,300,chr1,5000,7000,5100\n")
    assert read_pairs(_write(tmp_path / "a.csv", text))["distance"].tolist() == [4900]
    text = text.replace(",tss\n", ",distance\n").replace(",5100\n", ",42\n")
    assert read_pairs(_write(tmp_path / "b.csv", text))["distance"].tolist() == [42]


def test_generated_pair_ids_are_unique_and_chunk_independent(tmp_path):
    row = "chr1\t100\t300\tchr1\t5000\t7000\n"
    header = "\t".join(COORD_COLUMNS) + "\n"
    path = _write(tmp_path / "dup.tsv", header + row * 3 + "chr1\t1\t2\tchr1\t10\t20\n")
    whole = read_pairs(path)
    assert whole["pair_id"].tolist() == [
        "chr1:100-300|chr1:5000-7000", "chr1:100-300|chr1:5000-7000#2",
        "chr1:100-300|chr1:5000-7000#3", "chr1:1-2|chr1:10-20"]
    streamed = pd.concat(list(iter_pairs(path, chunksize=1)))
    pd.testing.assert_frame_equal(streamed, whole)


def test_bengi_point_anchors_read_as_one_bp(tmp_path):
    line = ("0\t240000\tchr1\t1225000\t1225000\tchr1:1224999-1225000|K562|x\t"
            "chr1\t1465000\t1465000\tchr1:1464999-1465000|K562|x\n")
    df = read_pairs(_write(tmp_path / "loops.tsv", line))
    assert (df.loc[0, "enhancer_start"], df.loc[0, "enhancer_end"]) == (1224999, 1225000)
    assert (df.loc[0, "promoter_start"], df.loc[0, "promoter_end"]) == (1464999, 1465000)
    assert df.loc[0, "distance"] == 240000 and "tss" not in df.columns


def test_bedpe_round_trip_and_headerless(tmp_path):
    original = read_pairs(_write(tmp_path / "pairs.tsv", CANONICAL))
    write_pairs(original, tmp_path / "pairs.bedpe", format="bedpe")
    assert (tmp_path / "pairs.bedpe").read_text().startswith("#chrom1\tstart1")
    assert detect_format(tmp_path / "pairs.bedpe") == "bedpe"
    pd.testing.assert_frame_equal(read_pairs(tmp_path / "pairs.bedpe"), original)

    plain = _write(tmp_path / "plain.bedpe", "chr3\t10\t20\tchr3\t500\t900\tloopA\t7\t+\t-\n")
    df = read_pairs(plain)
    assert df.loc[0, "pair_id"] == "loopA" and df.loc[0, "score"] == 7
    assert (df.loc[0, "enhancer_strand"], df.loc[0, "promoter_strand"]) == ("+", "-")
    assert df.loc[0, "promoter_end"] == 900


def test_targetfinder_round_trip_and_layouts(tmp_path):
    original = read_pairs(_write(tmp_path / "pairs.tsv", CANONICAL), cell_type="K562")
    write_pairs(original, tmp_path / "tf.csv", format="targetfinder")
    assert detect_format(tmp_path / "tf.csv") == "targetfinder"
    back = read_pairs(tmp_path / "tf.csv")
    pd.testing.assert_frame_equal(back[original.columns], original)

    names = _write(tmp_path / "names.csv", "enhancer_name,promoter_name,label\n"
                   "K562|chr1:6454864-6455189,K562|chr1:6452398-6454664,1\n")
    df = read_pairs(names)
    assert df.loc[0, ["enhancer_chrom", "enhancer_start", "enhancer_end"]].tolist() == ["chr1", 6454864, 6455189]
    assert df.loc[0, "promoter_start"] == 6452398 and df.loc[0, "cell_type"] == "K562"

    full = _write(tmp_path / "full.csv",
                  "bin,enhancer_chrom,enhancer_distance_to_promoter,enhancer_end,enhancer_name,"
                  "enhancer_start,label,promoter_chrom,promoter_end,promoter_name,promoter_start,"
                  "window_chrom,window_end,window_start\n"
                  "3,chr1,1000,6455189,K562|chr1:6454864-6455189,6454864,1,chr1,6454664,"
                  "K562|chr1:6452398-6454664,6452398,chr1,6454864,6454664\n")
    df = read_pairs(full)
    assert detect_format(full) == "targetfinder"
    assert df.loc[0, "distance"] == 1000 and df.loc[0, "window_end"] == 6454864
    assert df.loc[0, "cell_type"] == "K562"


def test_gzip_input_by_content(tmp_path):
    with gzip.open(tmp_path / "pairs.tsv.gz", "wt") as fh:
        fh.write(CANONICAL)
    (tmp_path / "noext").write_bytes((tmp_path / "pairs.tsv.gz").read_bytes())
    expected = read_pairs(_write(tmp_path / "pairs.tsv", CANONICAL))
    pd.testing.assert_frame_equal(read_pairs(tmp_path / "pairs.tsv.gz"), expected)
    pd.testing.assert_frame_equal(read_pairs(tmp_path / "noext"), expected)


def test_write_read_round_trip_gzip_and_atomic(tmp_path):
    original = read_pairs(_write(tmp_path / "pairs.tsv", CANONICAL), cell_type="GM12878")
    write_pairs(original, tmp_path / "out.tsv.gz")
    assert (tmp_path / "out.tsv.gz").read_bytes()[:2] == b"\x1f\x8b"
    pd.testing.assert_frame_equal(read_pairs(tmp_path / "out.tsv.gz"), original)
    with pytest.raises(InputError, match="promoter_end"):
        write_pairs(original.drop(columns="promoter_end"), tmp_path / "bad.tsv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tsv.gz", "pairs.tsv"]


def test_chunked_reading_matches_whole_and_reports_lines(tmp_path):
    rng = np.random.default_rng(0)
    starts = rng.integers(0, 1_000_000, size=250)
    table = pd.DataFrame({
        "enhancer_chrom": "chr5", "enhancer_start": starts, "enhancer_end": starts + 500,
        "promoter_chrom": "chr5", "promoter_start": starts + 20_000, "promoter_end": starts + 22_000,
        "pair_id": [f"p{i}" for i in range(250)], "label": rng.integers(0, 2, size=250),
    })
    path = tmp_path / "many.tsv"
    table.to_csv(path, sep="\t", index=False)
    chunks = list(iter_pairs(path, chunksize=64))
    assert [len(c) for c in chunks] == [64, 64, 64, 58]
    assert chunks[2].index[0] == 128
    pd.testing.assert_frame_equal(pd.concat(chunks), read_pairs(path))

    table.loc[200, "pair_id"] = "p3"  # duplicate across chunks: row 200 is line 202
    table.to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError) as err:
        for _ in iter_pairs(path, chunksize=64):
            pass
    assert (err.value.line, err.value.field) == (202, "pair_id") and "line 5" in err.value.message


def test_format_selection_errors(tmp_path):
    path = _write(tmp_path / "pairs.tsv", CANONICAL)
    with pytest.raises(UsageError):
        read_pairs(path, format="excel")
    junk = _write(tmp_path / "junk.txt", "hello world\n")
    with pytest.raises(InputError, match="cannot detect"):
        read_pairs(junk)
    with pytest.raises(UsageError, match="promoter_bed"):
        read_pairs(_write(tmp_path / "w.bed", "1\tchr1\t1\t100\n"))
    with pytest.raises(InputError):  # forcing BENGI on a canonical table: the header is no data
        read_pairs(path, format="bengi")


# --------------------------------------------------------------------------- window BEDs

def test_window_pairs_zero_based_and_labels_from_bed(tmp_path):
    enh = _write(tmp_path / "e.bed", "chr1\t0\t100\nchr1\t200\t300\n")
    pro = _write(tmp_path / "p.bed", "chr1\t1000\t1200\nchr1\t2000\t2200\n")
    df = read_window_pairs(enh, pro, one_based=False)
    assert df["enhancer_start"].tolist() == [0, 200] and "label" not in df.columns
    enh = _write(tmp_path / "e1.bed", "1\tchr1\t1\t100\n0\tchr1\t201\t300\n")
    pro = _write(tmp_path / "p1.bed", "1\tchr1\t1001\t1200\n0\tchr1\t2001\t2200\n")
    df = read_pairs(enh, promoter_bed=pro)
    assert df["label"].tolist() == [1, 0] and df["enhancer_start"].tolist() == [0, 200]
    streamed = list(iter_pairs(enh, chunksize=1, promoter_bed=pro))
    assert [len(c) for c in streamed] == [1, 1]
    pd.testing.assert_frame_equal(pd.concat(streamed), df)


def test_window_pairs_errors_name_the_right_file(tmp_path):
    enh = _write(tmp_path / "e.bed", "1\tchr1\t1\t100\n0\tchr1\t201\t300\n")
    pro = _write(tmp_path / "p.bed", "1\tchr1\t1001\t1200\n0\tchr2\t2001\t2200\n")
    with pytest.raises(InputError) as err:
        read_pairs(enh, promoter_bed=pro)
    assert (err.value.path, err.value.line, err.value.field) == (str(pro), 2, "promoter_chrom")

    labels = _write(tmp_path / "labels.txt", "1\n1\n")
    pro_ok = _write(tmp_path / "p2.bed", "1\tchr1\t1001\t1200\n0\tchr1\t2001\t2200\n")
    with pytest.raises(InputError) as err:
        read_pairs(enh, promoter_bed=pro_ok, labels=labels)
    assert (err.value.path, err.value.line, err.value.field) == (str(labels), 2, "label")

    short = _write(tmp_path / "short.txt", "1\n")
    with pytest.raises(InputError) as err:
        read_pairs(enh, promoter_bed=pro_ok, labels=short)
    assert str(short) in str(err.value) and err.value.line == 2

    zero = _write(tmp_path / "zero.bed", "1\tchr1\t0\t100\n")
    with pytest.raises(InputError) as err:
        read_window_pairs(zero, _write(tmp_path / "p3.bed", "1\tchr1\t5\t10\n"))
    assert (err.value.path, err.value.line, err.value.field) == (str(zero), 1, "enhancer_start")


# --------------------------------------------------------------------------- bad input

HEADER = "\t".join(COORD_COLUMNS)


@pytest.mark.parametrize("rows, line, field, message", [
    (["chr1\t100\tabc\tchr1\t500\t900"], 2, "enhancer_end", "not an integer"),
    (["chr1\t100\t200\tchr1\t500\t900", "chr1\t1.5\t200\tchr1\t500\t900"], 3, "enhancer_start", "not an integer"),
    (["chr1\t100\t200\tchr1\t-5\t900"], 2, "promoter_start", "negative"),
    (["chr1\t100\t200\tchr1\t500\t900", "chr1\t300\t300\tchr1\t500\t900"], 3, "enhancer_start", "start >= end"),
    (["chr1\t100\t200\tchr1\t900\t500"], 2, "promoter_start", "start >= end"),
    (["chr1\t100\t200\tchr2\t500\t900"], 2, "promoter_chrom", "different chromosome"),
    (["chr1\t100\t200\tchr1\t500\t"], 2, "promoter_end", "missing"),
])
def test_bad_coordinates(tmp_path, rows, line, field, message):
    path = _write(tmp_path / "bad.tsv", HEADER + "\n" + "\n".join(rows) + "\n")
    assert message in _expect_error(path, line, field).message


def test_missing_required_column(tmp_path):
    path = _write(tmp_path / "bad.tsv", "enhancer_chrom\tenhancer_start\tenhancer_end\tpromoter_chrom\t"
                  "promoter_start\nchr1\t1\t2\tchr1\t5\n")
    _expect_error(path, 1, "promoter_end")


def test_duplicate_pair_id_and_bad_label(tmp_path):
    path = _write(tmp_path / "dup.tsv", HEADER + "\tpair_id\tlabel\n"
                  "chr1\t1\t2\tchr1\t5\t6\ta\t1\n"
                  "chr1\t3\t4\tchr1\t5\t6\tb\t0\n"
                  "chr1\t3\t4\tchr1\t7\t8\ta\t1\n")
    assert "first seen on line 2" in _expect_error(path, 4, "pair_id").message
    path = _write(tmp_path / "label.tsv", HEADER + "\tlabel\n"
                  "chr1\t1\t2\tchr1\t5\t6\t1\n"
                  "chr1\t3\t4\tchr1\t5\t6\t2\n")
    _expect_error(path, 3, "label")


def test_bad_sequence_and_name(tmp_path):
    path = _write(tmp_path / "frag_pairs_1_x.csv", "enhancer_name,enhancer_seq,promoter_name,promoter_seq\n"
                  "K562|chr1:0-4,acgt,K562|chr1:10-14,NNNN\n"
                  "K562|chr1:4-8,ACXT,K562|chr1:10-14,ACGT\n")
    _expect_error(path, 3, "enhancer_seq")
    path = _write(tmp_path / "names.csv", "enhancer_name,promoter_name,label\n"
                  "K562|chr1:0-4,K562|chr1:10-14,1\n"
                  "K562|chr1:4,K562|chr1:10-14,1\n")
    _expect_error(path, 3, "enhancer_name")


def test_lowercase_sequences_are_accepted_upper_cased(tmp_path):
    path = _write(tmp_path / "frag_pairs_1_x.csv", "enhancer_name,enhancer_seq,promoter_name,promoter_seq\n"
                  "K562|chr1:0-4,acgt,K562|chr1:10-14,NNNN\n")
    df = read_pairs(path)
    assert df.loc[0, "enhancer_seq"] == "ACGT" and df.loc[0, "label"] == 1


def test_cell_type_conflict(tmp_path):
    path = _write(tmp_path / "names.csv", "enhancer_name,promoter_name,label\n"
                  "K562|chr1:0-4,K562|chr1:10-14,1\n")
    _expect_error(path, 2, "cell_type", cell_type="HeLa-S3")


@pytest.mark.parametrize("extra_header, row, field", [
    ("", "chr1\t1\t99999999999999999999\tchr1\t5\t6", "enhancer_end"),
    ("\ttss", "chr1\t1\t2\tchr1\t5\t6\t99999999999999999999", "tss"),
])
def test_integers_beyond_int64_are_input_errors(tmp_path, extra_header, row, field):
    path = _write(tmp_path / "big.tsv", HEADER + extra_header + "\n" + row + "\n")
    assert "too large" in _expect_error(path, 2, field).message


def test_window_bed_start_beyond_int64_is_input_error(tmp_path):
    enh = _write(tmp_path / "e.bed", "1\tchr1\t99999999999999999999\t100\n")
    with pytest.raises(InputError) as err:
        read_window_pairs(enh, _write(tmp_path / "p.bed", "1\tchr1\t5\t10\n"))
    assert (err.value.path, err.value.line, err.value.field) == (str(enh), 1, "enhancer_start")


def _many_rows(n: int) -> list[str]:
    return [f"chr1\t{i}\t{i + 10}\tchr1\t{i + 100}\t{i + 200}" for i in range(n)]


@pytest.mark.parametrize("bad_row", [1, 150])  # inside the sniffed lines, and in a later chunk
def test_undecodable_bytes_name_the_line(tmp_path, bad_row):
    rows = _many_rows(200)
    rows[bad_row] = rows[bad_row].replace("chr1", "chr\xff", 1)
    path = tmp_path / "latin1.tsv"
    path.write_bytes((HEADER + "\n" + "\n".join(rows) + "\n").encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8") as err:
        for _ in iter_pairs(path, chunksize=64):
            pass
    assert (err.value.path, err.value.line) == (str(path), bad_row + 2)


def test_truncated_gzip_is_input_error(tmp_path):
    data = gzip.compress((HEADER + "\n" + "\n".join(_many_rows(5000)) + "\n").encode())
    path = tmp_path / "cut.tsv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated gzip") as err:
        read_pairs(path)
    assert err.value.path == str(path) and err.value.line > 2


def test_unterminated_quote_names_the_line(tmp_path):
    rows = _many_rows(100)
    rows[70] = '"chr1\t1'
    path = _write(tmp_path / "quote.tsv", HEADER + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError, match="unterminated quoted field") as err:
        for _ in iter_pairs(path, chunksize=32):
            pass
    assert (err.value.path, err.value.line) == (str(path), 72)


# --------------------------------------------------------------------------- layering

def test_pairs_package_imports_only_io_and_errors():
    """io is a bottom layer: the pairs readers never import data, models or anything above."""
    import ast

    import epitools.io.pairs as package

    allowed = ("epitools.io", "epitools.errors", "epitools.progress")
    for module in sorted(Path(package.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("epitools"):
                    assert name.startswith(allowed), f"{module.name} imports {name}"


def test_fast_writer_matches_pandas_to_csv_byte_for_byte(tmp_path):
    """write_pairs formats columns itself; the bytes must stay those of DataFrame.to_csv."""
    from epitools.io.pairs.delimited import ROWS_PER_CHUNK, write_delimited

    rng = np.random.default_rng(3)
    n = ROWS_PER_CHUNK + 17  # more than one chunk
    table = pd.DataFrame({
        "a": rng.integers(-5, 10**15, n), "f": rng.lognormal(0, 12, n),
        "same": np.repeat(rng.random(n // 10 + 1), 10)[:n], "b": rng.random(n) < 0.5,
        "s": np.where(rng.random(n) < 0.1, None, "x" + pd.Series(rng.integers(0, 99, n)).astype(str)).astype(object),
        "f32": rng.random(n).astype(np.float32), "str": pd.array(rng.integers(0, 9, n).astype(str), dtype="str"),
        "nullable": pd.array(np.where(rng.random(n) < 0.2, None, 7), dtype="Int64"),
        "cat": pd.Categorical(rng.choice(["u", "v"], n)),
    })
    table["copy"] = table["f"]
    table.loc[::7, "f"] = np.nan
    table.loc[[1, 2, 3], "f"] = [np.inf, -0.0, 1e16]
    table.loc[n - 3, "s"] = 'tab\tand "quote"'  # csv quoting: that chunk goes through pandas
    for name, sep in (("t.tsv", "\t"), ("t.csv", ",")):
        write_delimited(table, tmp_path / name, sep=sep)
        table.to_csv(tmp_path / f"pandas_{name}", sep=sep, index=False, lineterminator="\n")
        assert (tmp_path / name).read_bytes() == (tmp_path / f"pandas_{name}").read_bytes()


def test_read_pairs_keeps_source_lines_over_chunks(tmp_path):
    """Rows remember their file lines (for later error messages) however the table was read."""
    from epitools.io.pairs.text import concat_chunks

    header = "# comment\n" + "\t".join(COORD_COLUMNS) + "\tpair_id\n"
    rows = "".join(f"chr1\t{i}\t{i + 5}\tchr1\t{i + 100}\t{i + 200}\tp{i}\n\n" for i in range(6))
    path = _write(tmp_path / "lines.tsv", header + rows)
    expected = [3 + 2 * i for i in range(6)]  # blank lines in between are skipped, not renumbered
    assert list(read_pairs(path).attrs["source_lines"].lines) == expected
    chunked = concat_chunks(iter_pairs(path, chunksize=4))
    assert list(chunked.attrs["source_lines"].lines) == expected
    # derived frames share the lines rather than copying them
    assert read_pairs(path)[["pair_id"]].attrs["source_lines"] is not None
