"""Outputs of ``epi-variants``: the effects TSV, the per-variant summary and the annotated VCF."""

from __future__ import annotations

import os

import pandas as pd

from epitools.io.atomic import atomic_open, atomic_path

INFO_KEY = "EPI"
INFO_FORMAT = "ALT|model|status|target|effect|z|p"


def write_table(table: pd.DataFrame, path) -> None:
    """A TSV written atomically (floats to 6 significant digits)."""
    with atomic_open(path, "w") as fh:
        table.to_csv(fh, sep="\t", index=False, float_format="%.6g")


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def write_annotated_vcf(source, summary: pd.DataFrame, out) -> None:
    """Copy VCF ``source`` to ``out`` (bgzipped) with an ``EPI`` INFO field per record.

    ``EPI`` holds one ``ALT|model|status|target|effect|z|p`` entry per allele and model from
    ``summary`` (rows keyed by ``record`` number and ``alt``); records without one get none.
    A model's ``model_warning`` (near chance, no held-out metrics) becomes a header line.
    """
    import pysam

    by_record = {}
    for row in summary.itertuples(index=False):
        entry = "|".join(_fmt(v) for v in (row.alt, row.model, row.status, row.target, row.effect, row.z,
                                             row.p_empirical))
        by_record.setdefault(int(row.record), []).append(entry.replace(",", ";").replace(" ", "_"))
    with pysam.VariantFile(os.fspath(source)) as vcf:
        header = vcf.header.copy()
        header.add_line(f'##INFO=<ID={INFO_KEY},Number=.,Type=String,Description="epi-variants effects: '
                        f'{INFO_FORMAT} (effect: delta logit of a pair model or delta log expression of '
                        f'EPInformer at its best pair or gene)">')
        if "model_warning" in summary:
            for model, warning in summary.groupby("model", sort=False)["model_warning"].first().items():
                if warning:
                    header.add_line(f"##{INFO_KEY}_model_warning={model}: {warning}")
        with atomic_path(out) as tmp:
            with pysam.VariantFile(os.fspath(tmp), "wz", header=header) as writer:
                for number, rec in enumerate(vcf, start=1):
                    new = rec.copy()
                    new.translate(header)
                    if number in by_record:
                        new.info[INFO_KEY] = by_record[number]
                    writer.write(new)
