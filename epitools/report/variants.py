"""Figures of an ``epi-variants`` run for the HTML report: a Manhattan-style plot of |Δ| along
the genome and REF/ALT attribution logos of the top variants.

:func:`variant_figures` reads an ``epi-variants`` output folder and returns the figures by
name; the report embeds them (e.g. with :func:`epitools.report.plots.png_bytes`).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

_ALPHABET = list("ACGT")


def manhattan_figure(summary: pd.DataFrame, title: str = ""):
    """|effect| of each scored variant along the genome, one colour band per chromosome and one
    panel per model; variants with an empirical p below 0.05 / n (Bonferroni) are ringed.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``summary.tsv`` of epi-variants: ``chrom pos model status effect p_empirical``.
    """
    scored = summary[summary["status"] == "scored"].copy()
    models = list(pd.unique(scored["model"])) or [""]
    fig, axes = plt.subplots(len(models), 1, figsize=(10, 2.4 * len(models)), squeeze=False)
    chroms = list(pd.unique(summary["chrom"]))
    span = summary.groupby("chrom")["pos"].max().reindex(chroms).fillna(0).to_numpy(np.float64)
    offset = dict(zip(chroms, np.concatenate([[0.0], np.cumsum(span)[:-1]])))
    for ax, model in zip(axes[:, 0], models):
        rows = scored[scored["model"] == model]
        x = rows["chrom"].map(offset).to_numpy(np.float64) + rows["pos"].to_numpy(np.float64)
        band = rows["chrom"].map({c: i % 2 for i, c in enumerate(chroms)}).to_numpy()
        ax.scatter(x, rows["effect"].abs(), s=6, c=np.where(band == 0, "tab:blue", "tab:grey"))
        if "p_empirical" in rows and len(rows):
            strong = rows["p_empirical"].to_numpy(np.float64) < 0.05 / max(len(rows), 1)
            ax.scatter(x[strong], rows["effect"].abs().to_numpy()[strong], s=30, facecolors="none",
                       edgecolors="tab:red")
        ax.set_ylabel(f"|Δ| {model}", fontsize=8)
        ax.set_xticks([offset[c] + s / 2 for c, s in zip(chroms, span)])
        ax.set_xticklabels(chroms, fontsize=7, rotation=45 if len(chroms) > 12 else 0)
    axes[0, 0].set_title(title or "variant effects along the genome (red: p < 0.05 after Bonferroni)")
    fig.tight_layout()
    return fig


def allele_logos_figure(attributions: dict, n: int = 5):
    """REF and ALT attribution logos (ISM of the observed base) of the first ``n`` variants of an
    ``attributions_<model>.npz`` (as a dict of arrays)."""
    import logomaker

    k = min(n, len(attributions["variant_id"]))
    fig, axes = plt.subplots(max(k, 1), 2, figsize=(10, 1.6 * max(k, 1)), squeeze=False)
    for i in range(k):
        for j, allele in enumerate(("ref", "alt")):
            codes = attributions[f"{allele}_codes"][i]
            values = attributions[allele][i]
            observed = np.zeros_like(values)
            known = codes < 4
            observed[np.flatnonzero(known), codes[known]] = values[np.flatnonzero(known), codes[known]]
            logomaker.Logo(pd.DataFrame(observed, columns=_ALPHABET), ax=axes[i, j], color_scheme="classic")
            motif = attributions["motif"][i]
            change = float(attributions["motif_change"][i])
            label = f"{attributions['variant_id'][i]} {allele.upper()}"
            if j == 1 and motif:
                label += f"  {motif} {'gained' if change > 0 else 'lost'} ({change:+.1f})"
            axes[i, j].set_title(label, fontsize=8)
            axes[i, j].set_xticks([])
    fig.tight_layout()
    return fig


def variant_figures(run_dir) -> dict:
    """Figures of one epi-variants output folder: ``manhattan`` and ``logos_<model>`` per
    attributions file; an empty dict when the folder holds no ``summary.tsv``."""
    run_dir = Path(run_dir)
    if not (run_dir / "summary.tsv").is_file():
        return {}
    figures = {"manhattan": manhattan_figure(pd.read_csv(run_dir / "summary.tsv", sep="\t"))}
    for path in sorted(run_dir.glob("attributions_*.npz")):
        with np.load(path) as data:
            figures[f"logos_{path.stem.removeprefix('attributions_')}"] = allele_logos_figure(dict(data))
    return figures
