"""Juicer ``.hic`` contacts through hictkpy agree with the cooler path (balanced and raw)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from epitools.contacts import pair_contacts
from epitools.contacts.hic_write import add_normalizations, cool_to_hic
from epitools.contacts.matrix import list_resolutions, open_contact_matrix
from epitools.errors import InputError, UsageError
from epitools.io.pairs import read_pairs

cooler = pytest.importorskip("cooler")
hictkpy = pytest.importorskip("hictkpy")

CONTACT_COLUMNS = ["contact", "contact_norm", "powerlaw_contact"]
BALANCES = ("weight", "KR", "SCALE", "VC", "VC_SQRT", "none", "NONE")


@pytest.fixture(scope="module")
def pairs(simulated):
    return read_pairs(simulated / "pairs.tsv")


@pytest.fixture(scope="module")
def every_norm(simulated, tmp_path_factory):
    """The simulated contacts as a .cool with weight + divisive KR/SCALE/VC/VC_SQRT, and as .hic."""
    out = tmp_path_factory.mktemp("every_norm")
    clr = cooler.Cooler(str(simulated / "hic.cool"))
    bins = clr.bins()[:]
    pixels = clr.pixels()[:]
    n = len(bins)
    cov = np.bincount(pixels["bin1_id"], pixels["count"], n) + np.bincount(pixels["bin2_id"], pixels["count"], n)
    rng = np.random.default_rng(3)
    bins["KR"] = rng.uniform(0.5, 2.0, n)
    bins["SCALE"] = rng.uniform(0.2, 5.0, n)
    bins["VC"] = cov / cov[cov > 0].mean()
    bins["VC_SQRT"] = np.sqrt(bins["VC"])
    bins.loc[[3, 57, 120], "KR"] = np.nan  # masked bins, as Juicer leaves them
    bins.loc[[8, 90], "SCALE"] = 0.0
    cool = out / "every.cool"
    cooler.create_cooler(str(cool), bins, pixels, ordered=True)
    return cool, cool_to_hic(cool, out / "every.hic")


def test_simulation_writes_hic_that_matches_its_cool(simulated, pairs):
    assert (simulated / "hic.hic").is_file()
    f = hictkpy.File(str(simulated / "hic.hic"), 5000)
    assert [str(n) for n in f.avail_normalizations()] == ["ICE"]
    for balance in ("auto", "none"):
        cool = pair_contacts(pairs, simulated / "hic.cool", balance=balance, fit=True)
        hic = pair_contacts(pairs, simulated / "hic.hic", balance=balance, fit=True)
        assert hic.attrs["contacts"]["format"] == "hic"
        assert hic.attrs["contacts"]["balance"] == ("ICE" if balance == "auto" else "none")
        if balance == "none":  # raw counts are integers in both files: exactly equal
            pd.testing.assert_frame_equal(hic[CONTACT_COLUMNS], cool[CONTACT_COLUMNS])
        else:  # v9 stores normalisation vectors as float32
            for column in CONTACT_COLUMNS:
                np.testing.assert_allclose(hic[column], cool[column], rtol=2e-6)
        assert hic.attrs["contacts"]["gamma"] == pytest.approx(cool.attrs["contacts"]["gamma"], rel=1e-5)


@pytest.mark.parametrize("balance", BALANCES)
def test_every_normalization_matches_cooler_lookup(every_norm, balance):
    cool_path, hic_path = every_norm
    cool = open_contact_matrix(cool_path, balance=balance)
    hic = open_contact_matrix(hic_path, balance=balance)
    assert (cool.format, hic.format) == ("cool", "hic")
    raw = balance in ("none", "NONE")
    # a cooler's multiplicative weight is stored inverted: every .hic vector divides
    assert cool.divisive == (None if raw else balance != "weight")
    assert hic.divisive == (None if raw else True)
    rng = np.random.default_rng(0)
    for chrom in cool.chromnames:
        nb = cool.nbins(chrom)
        assert hic.nbins(chrom) == nb
        b1, b2 = rng.integers(0, nb, 400), rng.integers(0, nb, 400)
        got_c = cool.chrom_contacts(chrom, b1, b2, max_diag=10)
        got_h = hic.chrom_contacts(chrom, b1, b2, max_diag=10)
        assert np.isnan(got_h.values).sum() == np.isnan(got_c.values).sum()
        for field in ("values", "row_sums", "diag_sums"):
            np.testing.assert_allclose(getattr(got_h, field), getattr(got_c, field), rtol=2e-6,
                                       equal_nan=True, err_msg=f"{chrom} {field}")
        np.testing.assert_array_equal(got_h.diag_counts, got_c.diag_counts)


def test_multiplicative_override_matches_cooler(every_norm):
    cool_path, hic_path = every_norm
    cool = open_contact_matrix(cool_path, balance="VC", divisive_weights=False)
    hic = open_contact_matrix(hic_path, balance="VC", divisive_weights=False)
    assert hic.divisive is cool.divisive is False
    b1, b2 = np.arange(40), np.arange(40)[::-1]
    np.testing.assert_allclose(hic.chrom_contacts("chr2", b1, b2).values,
                               cool.chrom_contacts("chr2", b1, b2).values, rtol=2e-6, equal_nan=True)


def test_balancing_agrees_with_hictk_own_normalization(every_norm):
    _, hic_path = every_norm
    f = hictkpy.File(str(hic_path), 5000)
    hic = open_contact_matrix(hic_path, balance="KR")
    ref = f.fetch("chr3", normalization="KR").to_coo()
    finite = np.isfinite(ref.data)
    got = hic.chrom_contacts("chr3", ref.row[finite], ref.col[finite]).values
    np.testing.assert_allclose(got, ref.data[finite], rtol=1e-6)


def test_chromosome_aliases_on_hic(simulated, pairs):
    renamed = pairs.copy()
    for side in ("enhancer_chrom", "promoter_chrom"):
        renamed[side] = renamed[side].str.replace("chr", "", regex=False)
    a = pair_contacts(pairs, simulated / "hic.hic")
    b = pair_contacts(renamed, simulated / "hic.hic")
    np.testing.assert_array_equal(a["contact_norm"].to_numpy(), b["contact_norm"].to_numpy())


def test_resolution_and_balance_errors(simulated, every_norm):
    path = simulated / "hic.hic"
    assert list_resolutions(path) == [5000]
    with pytest.raises(InputError, match="resolution 10000 not stored; available: 5000"):
        open_contact_matrix(path, resolution=10000)
    with pytest.raises(UsageError, match="--balance KR: no KR normalisation .* available: ICE"):
        open_contact_matrix(path, balance="KR")
    with pytest.raises(InputError, match="already holds normalisation vectors"):
        add_normalizations(every_norm[1], 5000, {"KR": {}}, {"KR": []})


def test_cli_contacts_and_abc_read_hic(simulated, tmp_path):
    from epitools.cli import contacts as contacts_cli
    from epitools.cli import prioritize

    tables = {}
    for ext in ("cool", "hic"):
        out = tmp_path / f"contacts_{ext}.tsv"
        res = CliRunner().invoke(contacts_cli.main, ["--pairs", str(simulated / "pairs.tsv"),
                                                     "--hic", str(simulated / f"hic.{ext}"),
                                                     "--balance", "weight", "-o", str(out)])
        assert res.exit_code == 0, res.output
        abc_out = tmp_path / f"abc_{ext}.tsv"
        res = CliRunner().invoke(prioritize.main, ["abc", "--pairs", str(simulated / "pairs.tsv"),
                                                   "--dnase", str(simulated / "dnase.bw"),
                                                   "--h3k27ac", str(simulated / "h3k27ac.bw"),
                                                   "--hic", str(simulated / f"hic.{ext}"),
                                                   "-o", str(abc_out)])
        assert res.exit_code == 0, res.output
        tables[ext] = (pd.read_csv(out, sep="\t"), pd.read_csv(abc_out, sep="\t"))
    np.testing.assert_allclose(tables["hic"][0]["contact_norm"], tables["cool"][0]["contact_norm"],
                               rtol=2e-6)
    np.testing.assert_allclose(tables["hic"][1]["abc_score"], tables["cool"][1]["abc_score"],
                               rtol=1e-5)
    assert tables["cool"][1]["abc_score"].gt(0).any()


@pytest.mark.shared_data
@pytest.mark.parametrize("resolution", [1_000_000, 2_500_000])
def test_hic2cool_test_file_round_trips_through_hic(shared_data, tmp_path, resolution):
    """Juicer's own KR/VC/VC_SQRT vectors (as hic2cool copied them) read alike from both files."""
    uri = f"{shared_data / 'hic' / 'hic2cool_test_hg19.mcool'}::/resolutions/{resolution}"
    hic_path = cool_to_hic(uri, tmp_path / "test.hic")
    rng = np.random.default_rng(1)
    for balance in ("KR", "VC", "VC_SQRT", "none"):
        cool = open_contact_matrix(uri, balance=balance)
        hic = open_contact_matrix(hic_path, balance=balance)
        for chrom in cool.chromnames[:6]:
            nb = cool.nbins(chrom)
            b1, b2 = rng.integers(0, nb, 300), rng.integers(0, nb, 300)
            np.testing.assert_allclose(hic.chrom_contacts(chrom, b1, b2).values,
                                       cool.chrom_contacts(chrom, b1, b2).values, rtol=2e-6,
                                       equal_nan=True, err_msg=f"{balance} {chrom}")


def test_gene_store_reads_hic_like_cool(simulated, tmp_path):
    import h5py

    from epitools.data.gene_store import build_gene_store

    contact = {}
    for ext in ("cool", "hic"):
        out = tmp_path / f"genes_{ext}.h5"
        build_gene_store(simulated / "genes.tsv", simulated / "elements.bed", simulated / "genome.fa",
                         out, hic=simulated / f"hic.{ext}", promoter_length=256, enhancer_length=256)
        with h5py.File(out, "r") as f:
            contact[ext] = f["contact"][:]
    assert contact["cool"].any()
    np.testing.assert_allclose(contact["hic"], contact["cool"], rtol=2e-6)
