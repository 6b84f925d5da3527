"""Gene-level store for EPInformer: candidate selection, windows, padding, targets, reader, Dataset."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from epitools.data.encoding import encode_sequence
from epitools.data.gene_dataset import GeneDataset, enhancer_features
from epitools.data.gene_store import build_gene_store, select_candidates
from epitools.io.gene_store import open_gene_store
from epitools.io.genes import read_elements
from epitools.errors import InputError, UsageError

WINDOW = 64


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture
def locus(tmp_path):
    """A 2-chromosome genome, 3 genes and 8 elements with known distances."""
    rng = np.random.default_rng(0)
    seqs = {"chr1": "".join(rng.choice(list("ACGT"), 40_000)), "chr2": "".join(rng.choice(list("ACGT"), 5_000))}
    fasta = tmp_path / "genome.fa"
    fasta.write_text("".join(f">{name}\n{seq}\n" for name, seq in seqs.items()))
    genes = pd.DataFrame({
        "gene": ["G1", "G2", "G3"], "chrom": ["chr1", "chr1", "chr2"], "tss": [20_000, 100, 2_500],
        "strand": ["+", "-", "+"], "expression": [0.0, 9.0, 99.0],
        **{f"hl_{i}": [float(i), 2.0 * i, 3.0 * i] for i in range(1, 9)},
    })
    genes_path = tmp_path / "genes.tsv"
    genes.to_csv(genes_path, sep="\t", index=False)
    # centres relative to G1's TSS: +10 (inside the promoter window), -2000, +2500, +5000, -7000, +9000,
    # +12000 (beyond the 10 kb limit); one element on chr1 near G2 (at the chromosome start).
    centres = [20_010, 18_000, 22_500, 25_000, 13_000, 29_000, 32_000, 1_200]
    elements = pd.DataFrame({
        "chrom": "chr1", "start": [c - 100 for c in centres], "end": [c + 100 for c in centres],
        "name": [f"e{i}" for i in range(len(centres))],
        "dnase": np.arange(1, 9, dtype=float), "h3k27ac": np.arange(11, 19, dtype=float)})
    elements_path = tmp_path / "elements.bed"
    elements.to_csv(elements_path, sep="\t", index=False)
    return {"fasta": fasta, "genes": genes_path, "elements": elements_path, "seqs": seqs,
            "centres": centres, "tmp": tmp_path}


def _distance_contact(pairs: pd.DataFrame) -> np.ndarray:
    return 1000.0 / pairs["distance"].to_numpy()


def _build(locus, **kwargs):
    out = locus["tmp"] / "genes.h5"
    options = dict(promoter_length=WINDOW, enhancer_length=WINDOW, max_enhancers=4, max_distance=10_000,
                   contacts=_distance_contact)
    options.update(kwargs)
    build_gene_store(locus["genes"], locus["elements"], locus["fasta"], out, **options)
    return out


def test_store_compression_option(locus):
    import hdf5plugin  # noqa: F401 - reads the blosc default

    plain = _build(locus, compression=None)
    gzip_path = locus["tmp"] / "genes_gzip.h5"
    build_gene_store(locus["genes"], locus["elements"], locus["fasta"], gzip_path, promoter_length=WINDOW,
                     enhancer_length=WINDOW, max_enhancers=4, max_distance=10_000,
                     contacts=_distance_contact, compression="gzip")
    with h5py.File(plain) as a, h5py.File(gzip_path) as b:
        assert a["enhancers"].compression is None and b["enhancers"].compression == "gzip"
        assert b.attrs["compression"] == "gzip"
        for name in ("promoter", "enhancers", "activity", "contact", "expression"):
            np.testing.assert_array_equal(a[name][()], b[name][()])


def test_store_shapes_attrs_and_targets(locus):
    path = _build(locus)
    with h5py.File(path) as h5:
        assert h5.attrs["kind"] == "genes"
        assert h5["promoter"].shape == (3, WINDOW) and h5["promoter"].dtype == np.uint8
        assert h5["enhancers"].shape == (3, 4, WINDOW)
        assert h5["enhancer_mask"].shape == (3, 4) and h5["enhancer_mask"].dtype == bool
        assert h5["activity"].shape == (3, 4, 2)
        assert h5["gene_features"].shape == (3, 8)
        # the same compression option as pair stores, blosc by default
        assert h5.attrs["compression"] == "blosc" and h5["enhancers"].compression != "gzip"
        np.testing.assert_allclose(h5["expression"][:], np.log1p([0.0, 9.0, 99.0]), rtol=1e-6)
        np.testing.assert_allclose(h5["gene_features"][1], 2.0 * np.arange(1, 9))
        assert list(h5["gene"].asstr()[:]) == ["G1", "G2", "G3"]
        assert h5.attrs["genome_checksum"].startswith("sha256:")


def test_candidates_nearest_first_within_limit_and_outside_promoter(locus):
    path = _build(locus)
    with h5py.File(path) as h5:
        names = h5["enhancer_name"].asstr()[:]
        distance = h5["distance"][:]
        mask = h5["enhancer_mask"][:]
        contact = h5["contact"][:]
        activity = h5["activity"][:]
    # G1: e0 sits inside the promoter window and e6 is beyond 10 kb; 4 nearest of the rest.
    assert list(names[0]) == ["e1", "e2", "e3", "e4"]
    assert list(distance[0]) == [2000, 2500, 5000, 7000]
    assert mask[0].all()
    np.testing.assert_allclose(contact[0], 1000.0 / distance[0])
    np.testing.assert_allclose(activity[0, 0], [2.0, 12.0])
    # G2 has one candidate; G3's chromosome has none: the rest is padding.
    assert list(mask[1]) == [True, False, False, False] and not mask[2].any()
    assert names[1, 0] == "e7" and distance[1, 0] == 1100
    assert (distance[~mask] == 0).all() and (names[~mask] == "").all() and (contact[~mask] == 0).all()


def test_windows_are_genome_sequence_and_padding_is_n(locus):
    path = _build(locus)
    chr1 = encode_sequence(locus["seqs"]["chr1"])
    with h5py.File(path) as h5:
        promoter = h5["promoter"][:]
        enhancers = h5["enhancers"][:]
        mask = h5["enhancer_mask"][:]
    np.testing.assert_array_equal(promoter[0], chr1[20_000 - WINDOW // 2: 20_000 + WINDOW // 2])
    np.testing.assert_array_equal(enhancers[0, 0], chr1[18_000 - WINDOW // 2: 18_000 + WINDOW // 2])
    # G2's TSS is 100 bp from the chromosome start: a 64 bp window fits; a 512 bp one is N-padded.
    assert (enhancers[~mask] == 4).all()
    padded = _build(locus, promoter_length=512, enhancer_length=512)
    with h5py.File(padded) as h5:
        p = h5["promoter"][1]
    assert (p[:156] == 4).all() and (p[156:] < 4).all()


def test_own_enhancer_context_is_the_element_n_padded(locus):
    chr1 = encode_sequence(locus["seqs"]["chr1"])
    own = _build(locus, promoter_length=512, enhancer_length=512, enhancer_context="own")
    genome = locus["tmp"] / "genome_context.h5"
    build_gene_store(locus["genes"], locus["elements"], locus["fasta"], genome, promoter_length=512,
                     enhancer_length=512, max_enhancers=4, max_distance=10_000, contacts=_distance_contact)
    with h5py.File(own) as a, h5py.File(genome) as b:
        assert a.attrs["enhancer_context"] == "own" and b.attrs["enhancer_context"] == "genome"
        slot = a["enhancers"][0, 0]  # e1: 17_900-18_100, centred in a 512 bp slot
        around = b["enhancers"][0, 0]
        np.testing.assert_array_equal(a["promoter"][:], b["promoter"][:])  # promoters unchanged
        np.testing.assert_array_equal(a["enhancer_mask"][:], b["enhancer_mask"][:])
    np.testing.assert_array_equal(slot[156:356], chr1[17_900:18_100])
    assert (slot[:156] == 4).all() and (slot[356:] == 4).all()
    np.testing.assert_array_equal(around, chr1[18_000 - 256:18_000 + 256])
    with pytest.raises(UsageError):
        _build(locus, enhancer_context="flank")


def test_promoter_h3k27ac_from_elements_or_genes_column(locus):
    path = _build(locus)
    with h5py.File(path) as h5:
        # e0 (H3K27ac 11) is the only element centred inside G1's 64 bp promoter window.
        np.testing.assert_allclose(h5["promoter_h3k27ac"][:], [11.0, 0.0, 0.0])
    np.testing.assert_allclose(GeneDataset(path)[0]["gene_features"][-1], np.log1p(11.0), rtol=1e-6)
    genes = pd.read_csv(locus["genes"], sep="\t").assign(h3k27ac=[1.0, 2.0, np.nan])
    genes.to_csv(locus["genes"], sep="\t", index=False)
    with h5py.File(_build(locus)) as h5:
        np.testing.assert_allclose(h5["promoter_h3k27ac"][:], [1.0, 2.0, 0.0])


def test_store_without_promoter_signal_reads_zeros(locus):
    path = _build(locus)
    with h5py.File(path, "a") as h5:
        del h5["promoter_h3k27ac"]
    item = GeneDataset(path)[0]
    assert item["gene_features"].shape == (9,) and item["gene_features"][-1] == 0


def test_select_candidates_vectorised_matches_bruteforce():
    rng = np.random.default_rng(1)
    genes = pd.DataFrame({"chrom": rng.choice(["a", "b"], 30), "tss": rng.integers(0, 300_000, 30)})
    starts = rng.integers(0, 300_000, 500)
    elements = pd.DataFrame({"chrom": rng.choice(["a", "b"], 500), "start": starts, "end": starts + 300})
    got = select_candidates(genes, elements, max_enhancers=5, max_distance=20_000, promoter_length=2000)
    centres = (elements["start"] + elements["end"]) // 2
    for g in range(30):
        d = (centres - genes["tss"][g]).to_numpy()
        ok = (elements["chrom"] == genes["chrom"][g]).to_numpy() & (np.abs(d) <= 20_000) & \
            ((d < -1000) | (d >= 1000))
        expected = np.sort(np.abs(d[ok]))[:5]
        np.testing.assert_array_equal(got.loc[got["gene_index"] == g, "distance"].to_numpy(), expected)


def test_bad_elements_name_line_and_field(tmp_path):
    bad = tmp_path / "bad.bed"
    bad.write_text("chrom\tstart\tend\tname\tdnase\th3k27ac\nchr1\t10\t20\te1\t1\t1\n"
                   "chr1\t50\t40\te2\t1\t1\n")
    with pytest.raises(InputError) as err:
        read_elements(bad)
    assert err.value.line == 3 and err.value.field == "end" and "bad.bed" in str(err.value)
    bad.write_text("chr1\t10\t20\te1\t1\tx\n")
    with pytest.raises(InputError) as err:
        read_elements(bad)
    assert err.value.line == 1 and err.value.field == "h3k27ac"


def test_bad_genes_leave_no_output(locus):
    genes = pd.read_csv(locus["genes"], sep="\t")
    genes.loc[1, "expression"] = -3
    genes.to_csv(locus["genes"], sep="\t", index=False)
    with pytest.raises(InputError) as err:
        _build(locus)
    assert err.value.line == 3 and err.value.field == "expression"
    assert not (locus["tmp"] / "genes.h5").exists()


def test_reader_and_dataset(locus):
    path = _build(locus)
    store = open_gene_store(path)
    assert len(store) == 3
    rows = store.read([2, 0, 2], keys=("expression", "enhancer_mask"))
    np.testing.assert_allclose(rows["expression"], np.log1p([99.0, 0.0, 99.0]), rtol=1e-6)
    cand = store.candidates()
    assert len(cand) == 5 and list(cand["enhancer_name"][:4]) == ["e1", "e2", "e3", "e4"]

    ds = GeneDataset(path, indices=[0, 1])
    item = ds[1]
    assert item["promoter"].shape == (WINDOW,) and item["enhancers"].shape == (4, WINDOW)
    # 8 half-life features, then log1p of the promoter's H3K27ac (G2's promoter holds no element)
    assert item["features"].shape == (4, 4) and item["gene_features"].shape == (9,)
    assert item["gene_features"][-1] == 0
    assert item["index"] == 1 and torch.isclose(item["expression"], torch.tensor(np.log1p(9.0)).float())
    batch = torch.utils.data.default_collate([ds[0], ds[1]])
    assert batch["enhancers"].shape == (2, 4, WINDOW) and batch["enhancer_mask"].dtype == torch.bool
    hot = GeneDataset(path, one_hot=True)[0]
    assert hot["enhancers"].shape == (4, 4, WINDOW) and hot["enhancers"].dtype == torch.float32


def test_enhancer_features_scaling():
    f = enhancer_features(np.array([[9_999, 99_999, 5]]),
                          np.array([[[0.0, 0.0], [np.e - 1, 1.0], [3.0, 3.0]]]),
                          np.array([[1e-2 - 1e-4, 1.0 - 1e-4, 1.0]]), mask=np.array([[True, True, False]]))
    np.testing.assert_allclose(f[0, 0], [0, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(f[0, 1], [1.0, 1.0, np.log(2), 2.0], rtol=1e-5)
    assert (f[0, 2] == 0).all()  # empty slot


def test_power_law_contacts_by_default(locus):
    path = _build(locus, contacts=None)
    with h5py.File(path) as h5:
        contact = h5["contact"][0]
    # ABC's power law: flat below 5 kb, then falling with distance (2000, 2500, 5000, 7000 bp).
    assert (np.diff(contact) <= 0).all() and contact[3] < contact[2] and (contact > 0).all()


def test_log_scale_expression_kept_with_transform_none(locus):
    genes = pd.read_csv(locus["genes"], sep="\t")
    genes["expression"] = [-1.5, 0.0, 2.0]
    genes.to_csv(locus["genes"], sep="\t", index=False)
    path = _build(locus, expression_transform="none")
    with h5py.File(path) as h5:
        np.testing.assert_allclose(h5["expression"][:], [-1.5, 0.0, 2.0])
        assert h5.attrs["expression_transform"] == "none"


def test_expression_table_replaces_column_and_leaves_missing_nan(locus, caplog):
    # CSV with an extra column, one gene of the genes table missing, one unknown gene.
    table = locus["tmp"] / "rna.csv"
    table.write_text("gene,tpm_rep,expression\nG3,1,3.0\nG1,2,1.0\nNOPE,3,5.0\n")
    with caplog.at_level("INFO", logger="epitools.data.gene_store"):
        path = _build(locus, expression=table)
    with h5py.File(path) as h5:
        np.testing.assert_allclose(h5["expression_raw"][:], [1.0, np.nan, 3.0])
        np.testing.assert_allclose(h5["expression"][:], np.log1p([1.0, np.nan, 3.0]))
        assert h5.attrs["expression_source"] == str(table) and h5.attrs["n_expressed"] == 2
        assert h5.attrs["expression_sha256"].startswith("sha256:")
    text = caplog.text
    assert "1 gene(s) have no value" in text and "1 gene(s) are not in the genes table" in text


def test_expression_without_value_is_skipped_by_training_rows(locus):
    from epitools.training.sources import GeneSource

    table = locus["tmp"] / "rna.tsv"
    table.write_text("gene\texpression\nG1\t1.0\nG2\tNA\nG3\t4\n")
    source = GeneSource(_build(locus, expression=table))
    try:
        np.testing.assert_array_equal(source.originals([0, 1, 2]), [0, 2])
    finally:
        source.close()


@pytest.mark.parametrize("text, line, field", [
    ("gene\texpression\nG1\t1\nG2\t2\nG1\t3\n", 4, "gene"),
    ("gene\texpression\nG1\tx\n", 2, "expression"),
    ("gene\texpression\nG1\t1\nG2\t-2\n", 3, "expression"),
    ("gene\tvalue\nG1\t1\n", 1, "expression"),
])
def test_bad_expression_table_names_line_and_field_and_writes_nothing(locus, text, line, field):
    table = locus["tmp"] / "rna.tsv"
    table.write_text(text)
    with pytest.raises(InputError) as err:
        _build(locus, expression=table)
    assert err.value.line == line and err.value.field == field and "rna.tsv" in str(err.value)
    assert not (locus["tmp"] / "genes.h5").exists()


def test_expression_series_and_log_scale_values(locus):
    series = pd.Series([-0.5, 2.0], index=["G2", "G3"])
    path = _build(locus, expression=series, expression_transform="none")
    with h5py.File(path) as h5:
        np.testing.assert_allclose(h5["expression"][:], [np.nan, -0.5, 2.0])
        assert h5.attrs["expression_source"] == "series"
    with pytest.raises(InputError):
        _build(locus, expression=series)  # negative values cannot be log1p-transformed
