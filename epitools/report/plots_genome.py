"""Figures of genome-level results: score distributions, gene loci, Hi-C distance decay."""

from __future__ import annotations

import numpy as np
import pandas as pd

from epitools.report.plots import MaxNLocator, plt


def distribution_figure(scores: dict, positive=None, log_scale=(), positive_label: str = "driver"):
    """Histogram of each score, split by ``positive`` (bool array, shape (n,)) when given.

    ``scores`` maps a name to values of shape (n,); names in ``log_scale`` are drawn as
    log10 of their positive values (ABC spans orders of magnitude).
    """
    names = list(scores)
    fig, axes = plt.subplots(1, len(names), figsize=(3.0 * len(names), 2.7), squeeze=False)
    for ax, name in zip(axes[0], names):
        values = np.asarray(scores[name], np.float64)
        label = name
        if name in log_scale:
            values = np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)
            label = f"log10 {name}"
        finite = np.isfinite(values)
        if not finite.any():
            ax.set_axis_off()
            continue
        bins = np.histogram_bin_edges(values[finite], bins=30)
        if positive is None:
            ax.hist(values[finite], bins=bins, color="tab:blue")
        else:
            pos = np.asarray(positive, bool)
            for mask, text, colour in ((~pos, "other", "tab:blue"), (pos, positive_label, "tab:red")):
                sel = values[mask & finite]
                if sel.size:
                    ax.hist(sel, bins=bins, density=True, alpha=0.55, color=colour,
                            label=f"{text} ({sel.size})")
            ax.legend(fontsize=6)
        ax.set_xlabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(4))
    axes[0, 0].set_ylabel("density" if positive is not None else "count", fontsize=8)
    fig.subplots_adjust(wspace=0.3, bottom=0.2)
    return fig


def locus_figure(rows: pd.DataFrame, panels: dict, highlight=None, title: str = ""):
    """One gene's candidate enhancers along the genome, one bar panel per score.

    Parameters
    ----------
    rows : DataFrame
        The gene's candidates: ``tss enhancer_start enhancer_end`` (n rows).
    panels : dict
        Panel label -> values of shape (n,).
    highlight : bool array of shape (n,), optional
        Candidates drawn in red (e.g. planted drivers).
    """
    tss = float(rows["tss"].iloc[0])
    centre = ((rows["enhancer_start"] + rows["enhancer_end"]) / 2 - tss).to_numpy() / 1000.0
    mark = np.zeros(len(rows), bool) if highlight is None else np.asarray(highlight, bool)
    fig, axes = plt.subplots(len(panels), 1, figsize=(8.0, 1.1 * len(panels) + 0.6), sharex=True,
                             squeeze=False)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.94, bottom=0.08, hspace=0.15)
    for ax, (label, values) in zip(axes[:, 0], panels.items()):
        values = np.asarray(values, np.float64)
        # Stems (one line collection), not bars: hundreds of patches take seconds to draw.
        for sel, colour, lw in ((~mark, "tab:blue", 1.5), (mark, "tab:red", 2.5)):
            if sel.any():
                ax.vlines(centre[sel], 0, values[sel], colors=colour, lw=lw)
        ax.axvline(0, color="black", lw=0.8, ls="--")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_ylabel(label, fontsize=7)
        ax.tick_params(labelsize=7)
    axes[0, 0].set_title(title + ("; red = planted drivers" if mark.any() else ""), fontsize=9)
    axes[-1, 0].set_xlabel("enhancer centre − TSS (kb); TSS at 0", fontsize=8)
    return fig


def decay_figure(distance, contact, powerlaw: dict, max_points: int = 20_000, title: str = ""):
    """Contact against distance (log–log): pairs, median per distance bin and power laws.

    Parameters
    ----------
    distance, contact : array_like, shape (n,)
        Pair distances (bp) and their contacts; non-positive contacts are left out of the
        log axes (and counted in the legend).
    powerlaw : dict
        Label -> contact at each of the same distances (shape (n,)), e.g. the power law
        the contacts were normalised with.
    """
    d = np.asarray(distance, np.float64)
    c = np.asarray(contact, np.float64)
    ok = (d > 0) & (c > 0) & np.isfinite(c)
    fig, ax = plt.subplots(figsize=(5.0, 4.0))
    shown = np.flatnonzero(ok)
    if shown.size > max_points:  # a fixed subsample: the same page for the same input
        shown = np.random.default_rng(0).choice(shown, max_points, replace=False)
    ax.scatter(d[shown], c[shown], s=4, alpha=0.3, c="tab:blue",
               label=f"pairs ({int(ok.sum())}; {int((~ok).sum())} without contact)")
    if ok.sum() >= 10:
        edges = np.geomspace(d[ok].min(), d[ok].max() * 1.0001, 25)
        which = np.digitize(d[ok], edges)
        mids, medians = [], []
        for b in np.unique(which):
            sel = c[ok][which == b]
            if sel.size >= 3:
                mids.append(np.sqrt(edges[b - 1] * edges[min(b, len(edges) - 1)]))
                medians.append(np.median(sel))
        ax.plot(mids, medians, c="black", marker="o", ms=3, lw=1.2, label="median per distance bin")
    order = np.argsort(d, kind="stable")
    for (label, values), colour in zip(powerlaw.items(), ("tab:red", "tab:orange", "tab:green")):
        ax.plot(d[order], np.asarray(values, np.float64)[order], c=colour, lw=1.5, label=label)
    ax.set(xscale="log", yscale="log", xlabel="Distance (bp)", ylabel="Contact", title=title or None)
    ax.legend(fontsize=6, loc="lower left")
    return fig
