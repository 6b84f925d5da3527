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


def _tiny_bins() -> pd.DataFrame:
    """Bins of a 10-bin "chr1" and a 5-bin "chr2" at RES."""
    return pd.DataFrame({"chrom": ["chr1"] * 10 + ["chr2"] * 5,
                         "start": [i * RES for i in range(10)] + [i * RES for i in range(5)],
                         "end": [(i + 1) * RES for i in range(10)] + [(i + 1) * RES for i in range(5)]})


@pytest.fixture(scope="module")
def tiny_cool(tmp_path_factory):
    """A hand-built cooler with known pixels and a `weight` column (bin 7 masked)."""
    path = tmp_path_factory.mktemp("cool") / "tiny.cool"
    bins = _tiny_bins()
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


@pytest.fixture(scope="module")
def divisive_cool(tmp_path_factory):
    """The tiny cooler with Juicer-style columns: KR (no attribute), VC marked multiplicative."""
    path = tmp_path_factory.mktemp("cool") / "juicer.cool"
    bins = _tiny_bins()
    bins["KR"] = 2.0
    bins.loc[2, "KR"] = 4.0
    bins.loc[7, "KR"] = np.nan
    bins["VC"] = 2.0
    pixels = pd.DataFrame(PIXELS, columns=["bin1_id", "bin2_id", "count"])
    cooler.create_cooler(str(path), bins, pixels, ordered=True)
    import h5py

    with h5py.File(path, "r+") as fh:
        fh["bins"]["VC"].attrs["divisive_weights"] = False
    return path


def test_divisive_columns_follow_cooler(divisive_cool):
    clr = cooler.Cooler(str(divisive_cool))
    assert cc.weights_are_divisive(clr, "KR") is True
    assert cc.weights_are_divisive(clr, "VC") is False  # the file says otherwise
    assert cc.weights_are_divisive(clr, "KR", False) is False
    assert cc.weights_are_divisive(clr, None, True) is None
    got = cc.chrom_contacts(clr, "chr1", [0, 1, 2, 7, 6], [1, 2, 5, 3, 8], "KR", divisive=True)
    # count / (w1 w2); a masked bin is NaN even without a stored pixel, as in cooler's matrix
    np.testing.assert_array_equal(got.values, [4 / 4, 6 / 8, 3 / 8, np.nan, 0.0])
    dense = clr.matrix(balance="KR")[:10, :10]
    np.testing.assert_allclose(got.values, dense[[0, 1, 2, 7, 6], [1, 2, 5, 3, 8]])
    mult = cc.chrom_contacts(clr, "chr1", [0], [1], "VC", divisive=False)
    assert mult.values[0] == 4 * 4


def test_pair_contacts_records_direction(divisive_cool, tmp_path):
    from epitools.cli.contacts import main

    pairs = _pairs("chr1", 1500, [5500])
    auto = pair_contacts(pairs, divisive_cool, balance="auto")
    assert (auto.attrs["contacts"]["balance"], auto.attrs["contacts"]["divisive_weights"]) == ("KR", True)
    vc = pair_contacts(pairs, divisive_cool, balance="VC")
    assert vc.attrs["contacts"]["divisive_weights"] is False
    raw = pair_contacts(pairs, divisive_cool, balance="none", divisive_weights=True)
    assert (raw.attrs["contacts"]["balance"], raw.attrs["contacts"]["divisive_weights"]) == ("none", None)
    src = tmp_path / "pairs.tsv"
    pairs.to_csv(src, sep="\t", index=False)
    out = tmp_path / "c.tsv"
    res = CliRunner().invoke(main, ["--pairs", str(src), "--hic", str(divisive_cool), "--balance", "KR",
                                    "--multiplicative-weights", "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    info = json.loads((tmp_path / "c.tsv.json").read_text())
    assert (info["balance"], info["divisive_weights"]) == ("KR", False)


@pytest.mark.parametrize("args, option", [
    (["--gamma", "-1"], "--gamma"),
    (["--gamma", "0"], "--gamma"),
    (["--gamma-reference", "-0.5"], "--gamma-reference"),
    (["--pseudocount-distance", "-1"], "--pseudocount-distance"),
    (["--tss-hic-contribution", "-5"], "--tss-hic-contribution"),
    (["--resolution", "0"], "--resolution"),
    (["--scale", "nan"], "--scale"),
    (["--fit-window", "5000", "1000"], "--fit-window"),
])
def test_cli_value_errors_exit_2_naming_the_option(tiny_cool, tmp_path, args, option):
    from epitools.cli.contacts import main

    src = tmp_path / "pairs.tsv"
    _pairs("chr1", 1500, [2500]).to_csv(src, sep="\t", index=False)
    res = CliRunner().invoke(main, ["--pairs", str(src), "-o", str(tmp_path / "o.tsv"), *args])
    assert res.exit_code == 2, res.output
    assert option in res.output
    assert not (tmp_path / "o.tsv").exists()


def test_library_value_errors_are_typed():
    pairs = _pairs("chr1", 100_000, [150_000])
    with pytest.raises(UsageError, match="--gamma"):
        pair_contacts(pairs, None, gamma=-1.0)
    with pytest.raises(UsageError, match="--gamma"):
        powerlaw_contact([1000.0], gamma=-1.0)
    with pytest.raises(UsageError, match="--fit-powerlaw needs"):
        pair_contacts(pairs, None, fit=True)


def test_fit_without_enough_diagonals_is_exit_2(tiny_cool, tmp_path):
    from epitools.cli.contacts import main

    pairs = _pairs("chr1", 1500, [2500])
    # window 5-1000 kb at 1 kb: geometry fine, but the 10-bin map has one such diagonal
    with pytest.raises(InputError, match="only 1 diagonal"):
        pair_contacts(pairs, tiny_cool, fit=True)
    with pytest.raises(UsageError, match=r"1000 bp resolution.*fit window 1000-1500 bp.*--gamma/--scale"):
        pair_contacts(pairs, tiny_cool, fit=True, fit_window=(1000, 1500))
    src = tmp_path / "pairs.tsv"
    pairs.to_csv(src, sep="\t", index=False)
    res = CliRunner().invoke(main, ["--pairs", str(src), "--hic", str(tiny_cool), "--fit-powerlaw",
                                    "-o", str(tmp_path / "o.tsv")])
    assert res.exit_code == 2, res.output
    assert "fit window 5000-1000000 bp" in res.output and "finer --resolution" in res.output


@pytest.mark.shared_data
def test_fit_on_a_coarse_shared_map_is_exit_2(shared_data, tmp_path):
    from epitools.cli.contacts import main

    src = tmp_path / "pairs.tsv"
    _pairs("chr1", 50_000_000, [53_000_000]).to_csv(src, sep="\t", index=False)
    res = CliRunner().invoke(main, ["--pairs", str(src), "--hic",
                                    str(shared_data / "hic" / "hg19.GM12878-MboI.matrix.2000kb.cool"),
                                    "--fit-powerlaw", "-o", str(tmp_path / "o.tsv")])
    assert res.exit_code == 2, res.output
    assert "2000000 bp resolution" in res.output and "5000-1000000 bp" in res.output
    assert "--gamma/--scale" in res.output


def test_fit_recovers_a_planted_power_law(tmp_path):
    """--fit-powerlaw on a map whose diagonals decay as d^-0.8 recovers gamma 0.8."""
    n, band = 5000, 60  # a long chromosome: ABC averages each diagonal over the first one's length
    bins = pd.DataFrame({"chrom": "chr1", "start": np.arange(n) * RES, "end": (np.arange(n) + 1) * RES})
    i = np.repeat(np.arange(n), band + 1)
    j = i + np.tile(np.arange(band + 1), n)
    i, j = i[j < n], j[j < n]
    counts = np.round(1e6 * ((j - i) * RES + 1.0) ** -0.8).astype(int)
    pixels = pd.DataFrame({"bin1_id": i, "bin2_id": j, "count": counts})
    path = tmp_path / "pl.cool"
    cooler.create_cooler(str(path), bins, pixels[pixels["count"] > 0], ordered=True)
    out = pair_contacts(_pairs("chr1", 50_500, [80_500]), path, fit=True, fit_window=(5000, 50_000))
    assert out.attrs["contacts"]["gamma"] == pytest.approx(0.8, abs=0.01)
    assert out.attrs["contacts"]["powerlaw_fitted"] is True


def test_contacts_file_streams_one_chromosome_at_a_time(tiny_cool, tmp_path, monkeypatch):
    """Grouped tables go through pair_contacts one chromosome at a time, with the whole-table
    result; an ungrouped table and a chromosome missing from the Hi-C file still work."""
    from epitools.contacts import pair_stream
    from epitools.io.pairs import read_pairs, write_pairs

    chr1 = _pairs("chr1", 2500, [500, 3500, 5500, 8500])
    chr2 = _pairs("chr2", 1500, [500, 3500])
    chr3 = _pairs("chr3", 1500, [4500])  # not in the Hi-C file: the power law
    grouped = tmp_path / "grouped.tsv"
    write_pairs(pd.concat([chr1, chr2, chr3], ignore_index=True), grouped)
    whole = pair_contacts(read_pairs(grouped), tiny_cool)

    sizes = []
    real = pair_stream.pair_contacts

    def spy(frame, *args, **kwargs):
        sizes.append(frame["promoter_chrom"].nunique())
        return real(frame, *args, **kwargs)

    monkeypatch.setattr(pair_stream, "pair_contacts", spy)
    info = pair_stream.write_pair_contacts(grouped, tmp_path / "out.tsv", tiny_cool)
    assert sizes == [1, 1, 1] and info["streamed"] and info["pairs"] == 7
    pd.testing.assert_frame_equal(read_pairs(tmp_path / "out.tsv"), read_pairs_of(whole, tmp_path))

    ungrouped = tmp_path / "ungrouped.tsv"
    write_pairs(pd.concat([chr1.iloc[:2], chr2, chr1.iloc[2:]], ignore_index=True), ungrouped)
    info = pair_stream.write_pair_contacts(ungrouped, tmp_path / "out2.tsv", tiny_cool)
    assert not info["streamed"] and info["pairs"] == 6

    with pytest.raises(InputError, match="no chromosome shared"):
        only3 = tmp_path / "only3.tsv"
        write_pairs(chr3, only3)
        pair_stream.write_pair_contacts(only3, tmp_path / "out3.tsv", tiny_cool)
    assert not (tmp_path / "out3.tsv").exists()


def read_pairs_of(table, tmp_path):
    """``table`` as written and read back (the text round trip the streamed output took)."""
    from epitools.io.pairs import read_pairs, write_pairs

    write_pairs(table, tmp_path / "whole.tsv")
    return read_pairs(tmp_path / "whole.tsv")
