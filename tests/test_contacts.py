"""Hi-C contact lookup (cooler), power law and ABC contact normalisation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from epitools.contacts import cooler_contacts as cc
from epitools.contacts import pair_contacts, powerlaw_contact
from epitools.errors import InputError, UsageError

cooler = pytest.importorskip("cooler")

RES = 1000
# (bin1, bin2, count) of a 10-bin chromosome "chr1" plus a 5-bin "chr2" (bins 10..14).
PIXELS = [(0, 0, 10), (0, 1, 4), (1, 1, 8), (1, 2, 6), (2, 5, 3), (3, 9, 2), (4, 4, 5),
          (4, 11, 7), (10, 12, 9)]


@pytest.fixture(scope="module")
def tiny_cool(tmp_path_factory):
    """A hand-built cooler with known pixels and a `weight` column (bin 7 masked)."""
    path = tmp_path_factory.mktemp("cool") / "tiny.cool"
    bins = pd.DataFrame({"chrom": ["chr1"] * 10 + ["chr2"] * 5,
                         "start": [i * RES for i in range(10)] + [i * RES for i in range(5)],
                         "end": [(i + 1) * RES for i in range(10)] + [(i + 1) * RES for i in range(5)]})
    bins["weight"] = 0.5
    bins.loc[7, "weight"] = np.nan
    pixels = pd.DataFrame(PIXELS, columns=["bin1_id", "bin2_id", "count"])
    cooler.create_cooler(str(path), bins, pixels, ordered=True)
    return path


def _pairs(chrom, tss, mids, width=100):
    mids = np.asarray(mids)
    return pd.DataFrame({
        "enhancer_chrom": chrom, "enhancer_start": mids - width // 2, "enhancer_end": mids + width // 2,
        "promoter_chrom": chrom, "promoter_start": tss - 500, "promoter_end": tss + 500,
        "tss": tss,
    })


def test_chrom_contacts_known_pixels_both_orientations(tiny_cool):
    clr = cooler.Cooler(str(tiny_cool))
    b1 = np.array([0, 1, 2, 5, 3, 9, 6, 1, 1])
    b2 = np.array([1, 0, 5, 2, 3, 3, 8, 1, 2])
    got = cc.chrom_contacts(clr, "chr1", b1, b2, balance=None)
    # both orientations give the stored value, missing pixels 0, repeated queries filled
    np.testing.assert_array_equal(got.values, [4, 4, 3, 3, 0, 2, 0, 8, 6])
    # trans pixel (4, 11) is excluded from the cis row sums
    assert got.row_sums[4] == 5
    assert got.row_sums[1] == 4 + 8 + 6


def test_chrom_contacts_balanced_and_masked(tiny_cool):
    clr = cooler.Cooler(str(tiny_cool))
    got = cc.chrom_contacts(clr, "chr1", [0, 3], [1, 9], balance="weight")
    np.testing.assert_allclose(got.values, [4 * 0.25, 2 * 0.25])
    chr2 = cc.chrom_contacts(clr, "chr2", [0, 2], [2, 0], balance=None)
    np.testing.assert_array_equal(chr2.values, [9, 9])


def test_pair_contacts_diagonal_and_row_mean(tiny_cool):
    pairs = _pairs("chr1", 1500, [1400, 2500, 9500])
    out = pair_contacts(pairs, tiny_cool, balance="none", tss_hic_contribution=50)
    sums = np.array([10 + 4, 4 + 8 + 6, 6 + 3, 2, 5, 3, 0, 0, 0, 2], dtype=float)
    row_mean = sums[sums > 0].mean()
    # same bin: the larger neighbour (6) times 50 %
    assert out["contact"].iloc[0] == pytest.approx(6 * 0.5 / row_mean)
    assert out["contact"].iloc[1] == pytest.approx(6 / row_mean)
    assert out["contact"].iloc[2] == 0.0  # no pixel (1, 9)
    assert out.attrs["contacts"]["balance"] == "none"
    assert set(out.columns) >= {"contact", "contact_norm", "powerlaw_contact", "distance"}


def test_pair_contacts_alias_and_uncovered_tss(tiny_cool):
    pairs = _pairs("1", 6500, [8500])  # bin 6 has no contacts at all
    out = pair_contacts(pairs, tiny_cool)
    assert out.attrs["contacts"]["balance"] == "weight"
    assert out.attrs["contacts"]["powerlaw_fallback"] == 1
    assert out["contact"].iloc[0] == pytest.approx(
        powerlaw_contact([2000], min_distance=RES)[0])


def test_genome_mismatch_is_an_input_error(tiny_cool):
    with pytest.raises(InputError, match="no chromosome shared"):
        pair_contacts(_pairs("chrZ", 1500, [2500]), tiny_cool)


def test_unknown_balance_column(tiny_cool):
    with pytest.raises(UsageError, match="KR"):
        pair_contacts(_pairs("chr1", 1500, [2500]), tiny_cool, balance="KR")


def test_powerlaw_fallback_without_hic():
    pairs = _pairs("chr1", 100_000, [100_000, 150_000, 1_100_000])
    out = pair_contacts(pairs, None, gamma=1.0, scale=5.0)
    d = np.array([0, 50_000, 1_000_000], dtype=float)
    expect = np.exp(5.0 - np.log(np.clip(d, 5000, None) + 1))
    np.testing.assert_allclose(out["powerlaw_contact"], expect)
    np.testing.assert_allclose(out["contact"], expect)
    assert out.attrs["contacts"]["source"] == "powerlaw"


def test_powerlaw_fit_recovers_parameters():
    from epitools.contacts.powerlaw import fit_powerlaw

    d = np.arange(1, 200) * 5000.0
    sums = 300 * np.exp(10.0 - 0.9 * np.log(d))
    gamma, scale = fit_powerlaw(d, sums, 300)
    assert gamma == pytest.approx(0.9, rel=1e-3)
    assert scale == pytest.approx(10.0, rel=1e-3)


@pytest.mark.shared_data
@pytest.mark.parametrize("name, chrom, resolution, balance, alias", [
    ("gm12878_chr1_2_3_1mb.cool", "chr1", 1_000_000, "none", True),
    ("hg19.GM12878-MboI.matrix.2000kb.cool", "1", 2_000_000, "none", True),
    ("rao2014.chr11_77400000_78600000.10kb.cool", "chr11", 10_000, "weight", False),
    ("hic2cool_test_hg19.mcool", "chr1", 1_000_000, "KR", False),
])
def test_every_shared_hic_file_reads(shared_data, name, chrom, resolution, balance, alias):
    path = shared_data / "hic" / name
    pos = 77_800_000 if chrom == "chr11" else 50_000_000
    pairs = _pairs(chrom, pos, [pos + 30_000, pos + 300_000])
    out = pair_contacts(pairs, path)
    info = out.attrs["contacts"]
    assert (info["resolution"], info["balance"]) == (resolution, balance)
    assert np.isfinite(out["contact_norm"]).all() and (out["contact_norm"] > 0).all()
    clr = cc.open_cooler(path)
    assert (chrom in clr.chromnames) != alias


@pytest.mark.shared_data
def test_mcool_resolutions_and_balance_columns(shared_data):
    path = shared_data / "hic" / "hic2cool_test_hg19.mcool"
    assert cc.list_resolutions(path) == [1_000_000, 2_500_000]
    clr = cc.open_cooler(path, 2_500_000)
    assert clr.binsize == 2_500_000
    assert {"KR", "VC", "VC_SQRT"} <= set(clr.bins().columns)
    assert cc.choose_balance(clr, "VC_SQRT") == "VC_SQRT"
    with pytest.raises(InputError, match="available: 1000000, 2500000"):
        cc.open_cooler(path, 5000)
    out = pair_contacts(_pairs("chr1", 50_000_000, [53_000_000]), path, resolution=2_500_000,
                        balance="VC")
    assert out.attrs["contacts"]["balance"] == "VC"


@pytest.mark.shared_data
def test_rao_weights_match_cooler_matrix(shared_data):
    path = shared_data / "hic" / "rao2014.chr11_77400000_78600000.10kb.cool"
    clr = cooler.Cooler(str(path))
    lo = clr.extent("chr11")[0]
    mat = clr.matrix(balance=True).fetch("chr11:77400000-78600000")
    base = 77_400_000 // 10_000
    i, j = np.triu_indices(mat.shape[0])
    got = cc.chrom_contacts(clr, "chr11", base + i, base + j, "weight")
    expect = np.nan_to_num(mat[i, j], nan=0.0)
    np.testing.assert_allclose(np.nan_to_num(got.values, nan=0.0), expect, rtol=1e-12)
    assert lo == 0


def test_cli_contacts(tiny_cool, tmp_path):
    pairs_mod = pytest.importorskip("epitools.io.pairs")
    from epitools.cli.contacts import main

    src = tmp_path / "pairs.tsv"
    pairs_mod.write_pairs(_pairs("chr1", 1500, [2500, 5500]), src)
    out = tmp_path / "with_contacts.tsv"
    res = CliRunner().invoke(main, ["--pairs", str(src), "--hic", str(tiny_cool), "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, sep="\t")
    assert {"contact", "contact_norm", "powerlaw_contact"} <= set(table.columns)
    info = json.loads((tmp_path / "with_contacts.tsv.json").read_text())
    assert info["balance"] == "weight"
    bad = CliRunner().invoke(main, ["--pairs", str(src), "--hic", str(tiny_cool), "--balance", "KR",
                                    "-o", str(tmp_path / "x.tsv")])
    assert bad.exit_code == 2
    assert not (tmp_path / "x.tsv").exists()
