"""Browser tracks (BEDPE, UCSC interact, bigWig, hub stanzas, IGV session) from ABC output."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from epitools.cli.prioritize import main as prioritize
from epitools.cli.report import main as report
from epitools.errors import UsageError
from epitools.io.pairs import read_pairs
from epitools.io.tracks import read_chrom_sizes
from epitools.report.browser import INTERACT_COLUMNS, scaled_scores, write_tracks

pyBigWig = pytest.importorskip("pyBigWig")
THRESHOLD = 0.02


@pytest.fixture(scope="module")
def abc_table(simulated, tmp_path_factory):
    """``epi-prioritize abc`` on ``epi-simulate --preset tiny``."""
    path = tmp_path_factory.mktemp("browser") / "abc.tsv"
    res = CliRunner().invoke(prioritize, ["abc", "--pairs", str(simulated / "pairs.tsv"),
                                          "--dnase", str(simulated / "dnase.bw"),
                                          "--h3k27ac", str(simulated / "h3k27ac.bw"),
                                          "--hic", str(simulated / "hic.hic"), "-o", str(path)])
    assert res.exit_code == 0, res.output
    return path


@pytest.fixture(scope="module")
def tracks(abc_table, simulated, tmp_path_factory):
    out = tmp_path_factory.mktemp("tracks")
    table = read_pairs(abc_table)
    result = write_tracks(table, out, "abc_score", threshold=THRESHOLD,
                          chrom_sizes=read_chrom_sizes(simulated / "chrom.sizes"), name="sim")
    return out, table, result


def _interact(out) -> pd.DataFrame:
    return pd.read_csv(out / "links.interact", sep="\t", header=None, names=INTERACT_COLUMNS,
                       dtype={"color": str})


def test_interact_is_bed5_plus_13_scored_by_the_column(tracks):
    out, table, result = tracks
    kept = table[table["abc_score"] >= THRESHOLD]
    rows = _interact(out)
    assert result["links"] == len(kept) == len(rows)  # every simulated pair is cis: one record each
    assert rows.shape[1] == 18
    # sorted as bedToBigBed wants (sort -k1,1 -k2,2n)
    assert rows[["chrom", "chromStart"]].apply(tuple, axis=1).is_monotonic_increasing
    assert rows["score"].between(0, 1000).all()
    assert rows["score"].max() == 1000 and rows["score"].min() == 0
    best = rows.loc[rows["value"].idxmax()]
    assert best["score"] == 1000 and best["color"] == "103,0,13"
    assert np.isclose(rows["value"].max(), kept["abc_score"].max(), rtol=1e-5)
    assert (rows["chromStart"] == rows[["sourceStart", "targetStart"]].min(axis=1)).all()
    assert (rows["chromEnd"] == rows[["sourceEnd", "targetEnd"]].max(axis=1)).all()
    # score rises with the value: the scaling is monotone
    order = rows.sort_values("value")
    assert order["score"].is_monotonic_increasing
    joined = rows.merge(kept, left_on=["sourceStart", "targetName"], right_on=["enhancer_start", "gene"])
    np.testing.assert_allclose(joined["value"], joined["abc_score"], rtol=1e-5)


def test_bedpe_and_activity_bigwig(tracks):
    out, table, _ = tracks
    bedpe = pd.read_csv(out / "links.bedpe", sep="\t")
    assert list(bedpe.columns)[:6] == ["#chrom1", "start1", "end1", "chrom2", "start2", "end2"]
    assert len(bedpe) == int((table["abc_score"] >= THRESHOLD).sum())
    assert bedpe["score"].is_monotonic_decreasing
    elements = table.drop_duplicates(["enhancer_chrom", "enhancer_start", "enhancer_end"])
    bw = pyBigWig.open(str(out / "activity.bw"))
    try:
        for _, e in elements.head(20).iterrows():
            covering = elements[(elements["enhancer_chrom"] == e["enhancer_chrom"])
                                & (elements["enhancer_start"] <= e["enhancer_start"])
                                & (elements["enhancer_end"] > e["enhancer_start"])]
            got = bw.values(e["enhancer_chrom"], int(e["enhancer_start"]), int(e["enhancer_start"]) + 1)[0]
            assert got == pytest.approx(covering["activity"].sum(), rel=1e-5)
    finally:
        bw.close()


def test_hub_stanzas_and_igv_session_name_the_files(tracks):
    out, _, result = tracks
    stanzas = (out / "tracks.txt").read_text()
    assert "type bigInteract\nbigDataUrl links.bb" in stanzas
    assert "type bigWig\nbigDataUrl activity.bw" in stanzas
    script = (out / "bigInteract.sh").read_text()
    assert "bedToBigBed -as=interact.as -type=bed5+13 links.interact chrom.sizes links.bb" in script
    assert (out / "interact.as").read_text().count(";") == 18
    session = ET.parse(out / "igv_session.xml").getroot()
    paths = [r.get("path") for r in session.iter("Resource")]
    assert paths == ["links.bedpe", "activity.bw"]
    assert all((out / f).is_file() for f in result["files"])


def test_trans_pair_is_two_records(abc_table, tmp_path):
    table = read_pairs(abc_table).head(3).copy()
    table.loc[0, "promoter_chrom"] = "chr2"
    write_tracks(table, tmp_path, "abc_score")
    rows = _interact(tmp_path)
    assert len(rows) == 4
    trans = rows[rows["sourceChrom"] != rows["targetChrom"]]
    assert sorted(trans["chrom"]) == ["chr1", "chr2"]


def test_scaling_and_errors(abc_table, tmp_path):
    score, colors = scaled_scores([2.0, 2.0])
    assert list(score) == [1000, 1000] and colors == ["103,0,13"] * 2
    with pytest.raises(UsageError, match="no such column; numeric columns: .*abc_score"):
        write_tracks(read_pairs(abc_table), tmp_path, "ABC.Score")


def test_report_tracks_cli(abc_table, tmp_path):
    out = tmp_path / "tracks"
    res = CliRunner().invoke(report, ["tracks", "--links", str(abc_table), "--score-column",
                                      "abc_score", "--score-threshold", "0.1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert {"links.bedpe", "links.interact", "activity.bw", "tracks.txt"} <= {p.name for p in out.iterdir()}
    res = CliRunner().invoke(report, ["tracks", "--links", str(abc_table), "--score-column", "nope",
                                      "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "--score-column nope" in res.output
