"""Every balancing column of every shared Hi-C file against cooler's own balanced matrix.

For each (file, resolution, column) of ``../shared/data/hic`` — ``weight`` (multiplicative),
hic2cool's ``KR``/``VC``/``VC_SQRT`` (divisive by cooler's rule) and raw counts for files
without weights — the per-pair lookup and the per-pair contacts of
:func:`epitools.contacts.pair_contacts` are compared with
``cooler.Cooler(...).matrix(balance=column)`` at the pairs' bins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_matrix

from epitools.contacts import cooler_contacts as cc
from epitools.contacts import pair_contacts, powerlaw_contact

cooler = pytest.importorskip("cooler")

MCOOL = "hic2cool_test_hg19.mcool"
#: (file, resolution, balancing column or None for raw counts): all of ../shared/data/hic.
CASES = [
    ("gm12878_chr1_2_3_1mb.cool", 1_000_000, None),
    ("hg19.GM12878-MboI.matrix.2000kb.cool", 2_000_000, None),
    ("rao2014.chr11_77400000_78600000.10kb.cool", 10_000, "weight"),
    *[(MCOOL, res, col) for res in (1_000_000, 2_500_000) for col in ("KR", "VC", "VC_SQRT")],
]
WINDOW_BINS = 400  # dense comparison window per chromosome (whole chromosome when smaller)
PAIRS_PER_CHROM = 400


def _case_id(case):
    name, res, col = case
    return f"{name.split('.')[0]}-{res}-{col or 'raw'}"


def _window(clr, chrom, nnz_per_row):
    """Global bin range [g0, g1) of at most WINDOW_BINS bins around the densest row."""
    lo, hi = clr.extent(chrom)
    if hi - lo <= WINDOW_BINS:
        return lo, hi
    centre = lo + int(np.argmax(nnz_per_row))
    g0 = int(np.clip(centre - WINDOW_BINS // 2, lo, hi - WINDOW_BINS))
    return g0, g0 + WINDOW_BINS


def _reference(clr, column, divisive):
    """Per chromosome: window, cooler's dense balanced window, full-chromosome row sums."""
    balance = column if column is not None else False
    with np.errstate(divide="ignore", invalid="ignore"):  # divisive zero weights: cooler's inf
        return _reference_tables(clr, balance, divisive)


def _reference_tables(clr, balance, divisive):
    dense_sel = clr.matrix(balance=balance, divisive_weights=divisive)
    sparse_sel = clr.matrix(balance=balance, divisive_weights=divisive, sparse=True)
    out = {}
    for chrom in clr.chromnames:
        lo, hi = clr.extent(chrom)
        full = sparse_sel[lo:hi, lo:hi].tocsr()  # cooler fills the lower triangle
        data = np.where(np.isfinite(full.data), full.data, 0.0)
        row_sums = np.asarray(csr_matrix((data, full.indices, full.indptr),
                                         shape=full.shape).sum(axis=1)).ravel()
        g0, g1 = _window(clr, chrom, np.diff(full.indptr))
        out[chrom] = (lo, g0, g1, dense_sel[g0:g1, g0:g1], row_sums)
    return out


def _open_case(shared_data, case):
    """(path, resolution, column, cooler, divisive) of one case."""
    name, res, column = case
    path = shared_data / "hic" / name
    clr = cc.open_cooler(path, res)
    return path, res, column, clr, cc.weights_are_divisive(clr, column)


def _sample_bins(rng, g0, g1, lo):
    i = rng.integers(g0, g1, PAIRS_PER_CHROM) - lo
    j = rng.integers(g0, g1, PAIRS_PER_CHROM) - lo
    return i, j


@pytest.mark.shared_data
def test_cases_cover_every_shared_hic_file_and_column(shared_data):
    found = set()
    for path in sorted((shared_data / "hic").glob("*cool")):
        for res in cc.list_resolutions(path):
            clr = cc.open_cooler(path, res)
            columns = [c for c in clr.bins().columns if c not in ("chrom", "start", "end")]
            found |= {(path.name, res, c) for c in columns} or {(path.name, res, None)}
    assert found == set(CASES)


@pytest.mark.shared_data
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_lookup_matches_cooler_balanced_matrix(shared_data, case):
    path, res, column, clr, divisive = _open_case(shared_data, case)
    assert divisive == (column in ("KR", "VC", "VC_SQRT") if column else None)
    rng = np.random.default_rng(0)
    n_compared = n_nonzero = 0
    for chrom, (lo, g0, g1, dense, _) in _reference(clr, column, divisive).items():
        i, j = _sample_bins(rng, g0, g1, lo)
        got = cc.chrom_contacts(clr, chrom, i, j, column, divisive=bool(divisive),
                                chunksize=997).values  # several row blocks per chromosome
        expect = dense[i - (g0 - lo), j - (g0 - lo)]
        np.testing.assert_array_equal(np.isfinite(got), np.isfinite(expect), err_msg=chrom)
        ok = np.isfinite(expect)
        np.testing.assert_allclose(got[ok], expect[ok], rtol=1e-12, atol=0, err_msg=chrom)
        n_compared += int(ok.sum())
        n_nonzero += int((expect[ok] != 0).sum())
    assert n_compared > 30 and n_nonzero > 20, "the comparison must include stored pixels"


@pytest.mark.shared_data
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_pair_contacts_match_cooler_balanced_matrix(shared_data, case):
    """``contact`` = cooler's balanced value / mean cis row sum; masked bins -> power law."""
    path, res, column, clr, divisive = _open_case(shared_data, case)
    rng = np.random.default_rng(1)
    tables, expected, kinds = [], [], []
    for chrom, (lo, g0, g1, dense, row_sums) in _reference(clr, column, divisive).items():
        i, j = _sample_bins(rng, g0, g1, lo)
        keep = i != j  # the TSS bin's own diagonal is replaced by a neighbour (tested elsewhere)
        i, j = i[keep], j[keep]
        tss = i * res + res // 2
        mid = j * res + res // 2
        tables.append(pd.DataFrame({
            "enhancer_chrom": chrom, "enhancer_start": mid - 50, "enhancer_end": mid + 50,
            "promoter_chrom": chrom, "promoter_start": tss - 500, "promoter_end": tss + 500,
            "tss": tss}))
        positive = row_sums[row_sums > 0]
        row_mean = positive.mean() if positive.size else 1.0
        norm = row_mean if abs(row_mean - 1) >= 1e-3 else 1.0
        value = dense[i - (g0 - lo), j - (g0 - lo)] / norm
        covered = row_sums[i] > 0
        kind = np.where(~covered, "uncovered", np.where(np.isfinite(value), "hic", "masked"))
        expected.append(np.where(kind == "hic", value, np.abs(i - j) * res))
        kinds.append(kind)
    pairs = pd.concat(tables, ignore_index=True)
    expected, kinds = np.concatenate(expected), np.concatenate(kinds)
    out = pair_contacts(pairs, path, resolution=res, balance=column or "none")
    info = out.attrs["contacts"]
    assert (info["balance"], info["divisive_weights"]) == (column or "none", divisive)
    got = out["contact"].to_numpy()
    hic = kinds == "hic"
    assert (hic & (expected > 0)).sum() > 20
    np.testing.assert_allclose(got[hic], expected[hic], rtol=1e-10)
    gamma, scale = info["gamma"], info["scale"]
    masked = kinds == "masked"
    np.testing.assert_allclose(got[masked], powerlaw_contact(expected[masked], gamma, scale,
                                                             min_distance=res))
    uncovered = kinds == "uncovered"
    distance = out["distance"].to_numpy()
    np.testing.assert_allclose(got[uncovered], powerlaw_contact(distance[uncovered], gamma, scale,
                                                                min_distance=res))


@pytest.mark.shared_data
@pytest.mark.parametrize("divisive", [True, False])
def test_explicit_weight_direction_overrides_the_name_rule(shared_data, divisive):
    path = shared_data / "hic" / MCOOL
    clr = cc.open_cooler(path, 1_000_000)
    assert cc.weights_are_divisive(clr, "KR", divisive) is divisive
    lo, hi = clr.extent("chr1")
    dense = clr.matrix(balance="KR", divisive_weights=divisive)[lo:hi, lo:hi]
    i, j = np.triu_indices(hi - lo)
    got = cc.chrom_contacts(clr, "chr1", i, j, "KR", divisive=divisive).values
    ok = np.isfinite(dense[i, j])
    np.testing.assert_array_equal(np.isfinite(got), ok)
    np.testing.assert_allclose(got[ok], dense[i, j][ok], rtol=1e-12)
    pairs = pd.DataFrame({"enhancer_chrom": "chr1", "enhancer_start": [53_000_000],
                          "enhancer_end": [53_000_100], "promoter_chrom": "chr1",
                          "promoter_start": [50_000_000], "promoter_end": [50_001_000]})
    info = pair_contacts(pairs, path, resolution=1_000_000, balance="KR",
                         divisive_weights=divisive).attrs["contacts"]
    assert info["divisive_weights"] is divisive
