"""The ``variants`` section of the HTML report: ``epi-variants`` runs, their models' warnings,
top variants, a Manhattan-style plot of |Δ| along the genome and REF/ALT attribution logos.

:func:`variant_figures` reads an ``epi-variants`` output folder and returns the figures by
name; :func:`variants_section` renders every folder found (by its ``summary.tsv``) with, first,
each model's ``model_warning`` (near chance, or no held-out metrics: the ``model_warning``
column that epi-variants writes into ``summary.tsv``, else ``run.json``) as a visible warning.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from epitools.errors import InputError  # noqa: E402
from epitools.report import page  # noqa: E402

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


# --------------------------------------------------------------------------- the report section
WARNING_KEY = "model_warning"
TOP_VARIANTS = 10
_TOP_COLUMNS = ["variant_id", "chrom", "pos", "ref", "alt", "model", "element", "target", "effect", "z",
                "p_empirical"]


def read_summary(path) -> pd.DataFrame:
    """``summary.tsv`` of epi-variants (``model_warning`` as text, empty where none)."""
    try:
        table = pd.read_csv(path, sep="\t", dtype={WARNING_KEY: str, "variant_id": str, "chrom": str})
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the epi-variants summary: {exc}", path=path) from exc
    missing = [c for c in ("chrom", "pos", "model", "status", "effect") if c not in table]
    if missing:
        raise InputError(f"not an epi-variants summary.tsv (no column {missing[0]})", path=path, field=missing[0])
    if WARNING_KEY in table:
        table[WARNING_KEY] = table[WARNING_KEY].fillna("")
    return table


def model_warnings(run_dir, summary: pd.DataFrame | None = None) -> dict:
    """``{model: warning}`` of the models of an epi-variants folder that were warned about.

    Read from the ``model_warning`` column of ``summary.tsv``; from ``run.json`` (its
    ``models``) when the table has no such column.
    """
    run_dir = Path(run_dir)
    summary = read_summary(run_dir / "summary.tsv") if summary is None else summary
    if WARNING_KEY in summary:
        first = summary.groupby("model", sort=False)[WARNING_KEY].first()
        return {str(m): str(w) for m, w in first.items() if str(w).strip()}
    try:
        run = json.loads((run_dir / "run.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return {str(m.get("model")): str(m[WARNING_KEY]) for m in run.get("models", [])
            if isinstance(m, dict) and m.get(WARNING_KEY)}


def _models_view(summary: pd.DataFrame, warnings: dict) -> pd.DataFrame:
    rows = []
    for model, part in summary.groupby("model", sort=False):
        scored = part[part["status"] == "scored"]
        p = pd.to_numeric(scored.get("p_empirical", pd.Series(dtype=float)), errors="coerce")
        effect = pd.to_numeric(scored["effect"], errors="coerce").abs()
        warning = warnings.get(str(model), "")
        rows.append({"model": model, "scored": len(scored), "not scored": len(part) - len(scored),
                     "p < 0.05": int((p < 0.05).sum()) if p.notna().any() else page.MISSING,
                     "max |effect|": effect.max() if len(effect) else np.nan,
                     "status": ("near chance" if "near chance" in warning else
                                "no held-out metrics" if warning else "above chance")})
    return pd.DataFrame(rows)


def _top_view(summary: pd.DataFrame, n: int = TOP_VARIANTS) -> pd.DataFrame:
    scored = summary[summary["status"] == "scored"].copy()
    scored["_abs"] = pd.to_numeric(scored["effect"], errors="coerce").abs()
    top = scored.sort_values("_abs", ascending=False, kind="stable").head(n)
    return top[[c for c in _TOP_COLUMNS if c in top]].reset_index(drop=True)


def variants_block(summary_path, roots=(), figures: bool = True, block_id: str = "variants-run") -> str:
    """One epi-variants folder (that of ``summary_path``): model warnings, per-model counts,
    the top variants by |effect| and, with ``figures``, :func:`variant_figures`."""
    run_dir = Path(summary_path).parent
    summary = read_summary(summary_path)
    warnings = model_warnings(run_dir, summary)
    body = [page.warning(f"epi-variants model {model}: {text}") for model, text in warnings.items()]
    body.append(page.table(_models_view(summary, warnings), text_columns=("model", "status")))
    top = _top_view(summary)
    if len(top):
        body += [f"<h4>Top {len(top)} variants by |effect|</h4>",
                 page.table(top, text_columns=("variant_id", "chrom", "ref", "alt", "model", "element", "target"))]
    if figures:
        images = []
        for name, fig in variant_figures(run_dir).items():
            kind = "manhattan" if name == "manhattan" else "variant-logos"
            images.append(page.figure(fig, kind, f"{name} {run_dir.name}", wide=True))
        body.append(page.figs(images))
    return page.block(block_id, f"Variants: {page.relative_name(run_dir, roots)}", "".join(body))


def variants_section(summaries, roots=(), figures: bool = True) -> str:
    """The report section ``variants`` of the epi-variants folders of ``summaries`` (their
    ``summary.tsv``); empty when there are none."""
    if not summaries:
        return ""
    ids = page.block_ids("variants-run")
    note = page.note("epi-variants: the effect of each variant on its best pair (Δ logit) or gene "
                     "(Δ log expression) per model, with an empirical p against the background "
                     "variants. A model warned about below scores variants no better than chance.")
    blocks = [variants_block(path, roots, figures, next(ids)) for path in summaries]
    return page.section("variants", "Variant effects", note + "".join(blocks))
