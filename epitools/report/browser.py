"""Browser tracks from an enhancer–gene pairs table: BEDPE, UCSC interact, bigWig, hub stanzas.

From any pairs table with a score column (``epi-prioritize abc`` or ``links`` output, ``epi-predict``
predictions) this writes:

- ``links.bedpe``: BEDPE (element, promoter, name, score = the chosen column) for IGV;
- ``links.interact``: UCSC ``interact`` (bed5+13, sorted as ``bedToBigBed`` wants) directed
  element -> gene, ``score`` 0-1000 and ``color`` scaled linearly from the score column
  between its smallest and largest kept values, ``value`` the column itself; a trans pair is
  two records, one per chromosome, as UCSC asks;
- ``interact.as`` and ``bigInteract.sh``: the autoSql and the ``bedToBigBed`` command that
  turns ``links.interact`` into ``links.bb`` (bigInteract). No maintained Python library
  writes a bigBed with its own autoSql (pybigtools writes plain BED fields only), so the
  UCSC tool is used where a binary index is wanted;
- ``<column>.bw``: element activity (each ``--bigwig-column``) as bigWig, overlapping elements summed;
- ``tracks.txt`` (UCSC track-hub ``trackDb`` stanzas) and ``igv_session.xml`` naming them.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from epitools.data.simulate_tracks import flatten_intervals
from epitools.errors import InputError, UsageError
from epitools.io.atomic import atomic_open, write_text
from epitools.io.tracks import write_bigwig

log = logging.getLogger(__name__)

INTERACT_AS = """table interact
"Interaction between two regions"
    (
    string chrom;        "Chromosome (or contig, scaffold, etc.). For interchromosomal, use 2 records"
    uint   chromStart;   "Start position of lower region. For interchromosomal, set to chromStart of this region"
    uint   chromEnd;     "End position of upper region. For interchromosomal, set to chromEnd of this region"
    string name;         "Name of item, for display.  Usually 'sourceName/targetName' or empty"
    uint   score;        "Score from 0-1000."
    double value;        "Strength of interaction or other data value. Typically basis for score"
    string exp;          "Experiment name (metadata for filtering). Use . if not applicable"
    string color;        "Item color.  Specified as r,g,b or hexadecimal #RRGGBB or html color name."
    string sourceChrom;  "Chromosome of source region (directional) or lower region."
    uint   sourceStart;  "Start position in chromosome of source/lower/this region"
    uint   sourceEnd;    "End position in chromosome of source/lower/this region"
    string sourceName;   "Identifier of source/lower/this region"
    string sourceStrand; "Orientation of source/lower/this region: + or -.  Use . if not applicable"
    string targetChrom;  "Chromosome of target region (directional) or upper region."
    uint   targetStart;  "Start position in chromosome of target/upper/this region"
    uint   targetEnd;    "End position in chromosome of target/upper/this region"
    string targetName;   "Identifier of target/upper/this region"
    string targetStrand; "Orientation of target/upper/this region: + or -.  Use . if not applicable"
    )
"""
INTERACT_COLUMNS = ["chrom", "chromStart", "chromEnd", "name", "score", "value", "exp", "color",
                    "sourceChrom", "sourceStart", "sourceEnd", "sourceName", "sourceStrand",
                    "targetChrom", "targetStart", "targetEnd", "targetName", "targetStrand"]
BEDPE_COLUMNS = ["chrom1", "start1", "end1", "chrom2", "start2", "end2", "name", "score",
                 "strand1", "strand2"]
#: Colour ramp of the weakest and the strongest kept link (ColorBrewer "Reds" ends).
LOW_RGB, HIGH_RGB = np.array([252, 187, 161]), np.array([103, 0, 13])


def scaled_scores(values) -> tuple[np.ndarray, list[str]]:
    """UCSC score (int 0-1000) and ``r,g,b`` colour of each value, linear in min..max.

    Parameters
    ----------
    values : float array (n,)

    Returns
    -------
    score : int64 (n,)
    colors : list of str (n,)
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return np.zeros(0, dtype=np.int64), []
    lo, hi = float(values.min()), float(values.max())
    frac = (values - lo) / (hi - lo) if hi > lo else np.ones_like(values)
    score = np.rint(frac * 1000).astype(np.int64)
    rgb = np.rint(LOW_RGB[None, :] + frac[:, None] * (HIGH_RGB - LOW_RGB)[None, :]).astype(int)
    return score, [f"{r},{g},{b}" for r, g, b in rgb]


def _names(table: pd.DataFrame, side: str) -> pd.Series:
    """Element (``enhancer``) or gene (``promoter``) identifier of each row."""
    for column in ((f"{side}_id", f"{side}_name") if side == "enhancer" else ("gene", "promoter_id")):
        if column in table.columns:
            return table[column].astype(str)
    return (table[f"{side}_chrom"].astype(str) + ":" + table[f"{side}_start"].astype(str) + "-"
            + table[f"{side}_end"].astype(str))


def select_links(table: pd.DataFrame, score_column: str, threshold: float | None = None) -> pd.DataFrame:
    """Rows with a finite score (at or above ``threshold``), strongest first."""
    if score_column not in table.columns:
        numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]
        raise UsageError(f"--score-column {score_column}: no such column; numeric columns: "
                         f"{', '.join(numeric) or 'none'}")
    score = pd.to_numeric(table[score_column], errors="coerce")
    keep = np.isfinite(score.to_numpy(np.float64))
    if threshold is not None:
        keep &= score.to_numpy(np.float64) >= threshold
    out = table[keep].assign(_score=score[keep])
    return out.sort_values("_score", ascending=False, kind="stable")


def bedpe_frame(links: pd.DataFrame) -> pd.DataFrame:
    """BEDPE rows (element first) of links chosen by :func:`select_links`."""
    return pd.DataFrame({
        "chrom1": links["enhancer_chrom"].astype(str), "start1": links["enhancer_start"].astype(np.int64),
        "end1": links["enhancer_end"].astype(np.int64), "chrom2": links["promoter_chrom"].astype(str),
        "start2": links["promoter_start"].astype(np.int64), "end2": links["promoter_end"].astype(np.int64),
        "name": _names(links, "enhancer") + "/" + _names(links, "promoter"),
        "score": links["_score"].map(lambda v: f"{v:.6g}"), "strand1": ".",
        "strand2": links["strand"].astype(str) if "strand" in links.columns else ".",
    })


def interact_frame(links: pd.DataFrame, exp: str) -> pd.DataFrame:
    """UCSC interact (bed5+13) records of links chosen by :func:`select_links`, sorted."""
    score, colors = scaled_scores(links["_score"].to_numpy())
    e_chrom, p_chrom = links["enhancer_chrom"].astype(str), links["promoter_chrom"].astype(str)
    e0, e1 = links["enhancer_start"].astype(np.int64), links["enhancer_end"].astype(np.int64)
    p0, p1 = links["promoter_start"].astype(np.int64), links["promoter_end"].astype(np.int64)
    source, target = _names(links, "enhancer"), _names(links, "promoter")
    base = pd.DataFrame({
        "name": source + "/" + target, "score": score, "value": links["_score"].map(lambda v: f"{v:.6g}"),
        "exp": exp, "color": colors, "sourceChrom": e_chrom, "sourceStart": e0, "sourceEnd": e1,
        "sourceName": source, "sourceStrand": ".", "targetChrom": p_chrom, "targetStart": p0,
        "targetEnd": p1, "targetName": target,
        "targetStrand": links["strand"].astype(str) if "strand" in links.columns else ".",
    }, index=links.index)
    cis = (e_chrom == p_chrom).to_numpy()
    parts = [base[cis].assign(chrom=e_chrom[cis], chromStart=np.minimum(e0, p0)[cis],
                              chromEnd=np.maximum(e1, p1)[cis])]
    if (~cis).any():  # one record on each chromosome, spanning that chromosome's region
        parts.append(base[~cis].assign(chrom=e_chrom[~cis], chromStart=e0[~cis], chromEnd=e1[~cis]))
        parts.append(base[~cis].assign(chrom=p_chrom[~cis], chromStart=p0[~cis], chromEnd=p1[~cis]))
    out = pd.concat(parts)[INTERACT_COLUMNS]
    # bedToBigBed wants `sort -k1,1 -k2,2n` order: chromosomes as byte strings.
    return out.sort_values(["chrom", "chromStart", "chromEnd"], kind="stable").reset_index(drop=True)


def _element_segments(table: pd.DataFrame, column: str, sizes: dict) -> pd.DataFrame:
    """Non-overlapping ``chrom start end value`` of each distinct element's ``column``, in
    the chromosome order of ``sizes`` (the bigWig header's)."""
    elements = table.drop_duplicates(["enhancer_chrom", "enhancer_start", "enhancer_end"])
    value = pd.to_numeric(elements[column], errors="coerce").fillna(0.0)
    chroms = elements["enhancer_chrom"].astype(str)
    present = set(chroms)
    return flatten_intervals(chroms, elements["enhancer_start"], elements["enhancer_end"], value,
                             [c for c in sizes if c in present])


def _chrom_sizes(table: pd.DataFrame) -> dict:
    """Chromosome -> largest end of any element or promoter (when no sizes file is given)."""
    ends = pd.concat([table[["enhancer_chrom", "enhancer_end"]].set_axis(["chrom", "end"], axis=1),
                      table[["promoter_chrom", "promoter_end"]].set_axis(["chrom", "end"], axis=1)])
    return ends.assign(chrom=ends["chrom"].astype(str)).groupby("chrom", sort=True)["end"].max().astype(int).to_dict()


def _write_table(frame: pd.DataFrame, path: Path, header_comment: str | None = None) -> None:
    with atomic_open(path, "w") as fh:
        if header_comment:
            fh.write(header_comment + "\n")
        frame.to_csv(fh, sep="\t", index=False, header=False)


def _trackdb(name: str, score_column: str, bigwigs: list[str]) -> str:
    """trackDb stanzas (UCSC track hub) for the bigInteract and the bigWigs."""
    stanzas = [
        "# UCSC track hub trackDb stanzas; build links.bb first with bigInteract.sh.",
        "# IGV: load links.bedpe and the bigWigs (or open igv_session.xml).",
        f"track {name}_links\ntype bigInteract\nbigDataUrl links.bb\nshortLabel {name} links\n"
        f"longLabel {name}: element-gene links scored by {score_column}\ninteractDirectional true\n"
        "interactUp true\nmaxHeightPixels 200:100:50\nspectrum on\nvisibility full",
    ]
    for bw in bigwigs:
        stem = Path(bw).stem
        stanzas.append(f"track {name}_{stem}\ntype bigWig\nbigDataUrl {bw}\nshortLabel {name} {stem}\n"
                       f"longLabel {name}: element {stem}\nautoScale on\nvisibility full")
    return "\n\n".join(stanzas) + "\n"


def _igv_session(name: str, genome: str, bigwigs: list[str]) -> str:
    files = ["links.bedpe", *bigwigs]
    resources = "\n".join(f'        <Resource path="{html.escape(f)}" name="{html.escape(name)} '
                          f'{html.escape(Path(f).stem)}"/>' for f in files)
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
            f'<Session genome="{html.escape(genome)}" version="8">\n    <Resources>\n{resources}\n'
            f'    </Resources>\n</Session>\n')


def write_tracks(table: pd.DataFrame, out_dir, score_column: str, *, threshold: float | None = None,
                 bigwig_columns=None, chrom_sizes: dict | None = None, name: str = "epitools",
                 genome: str = "hg38") -> dict:
    """Write the browser files of a pairs table into ``out_dir`` (see the module docstring).

    Parameters
    ----------
    table : DataFrame
        Canonical pairs table with ``score_column`` (and ``gene`` for names, when present).
    out_dir : path
    score_column : str
        Column that scores, colours and orders the links (larger = stronger).
    threshold : float, optional
        Keep links with ``score_column >= threshold``.
    bigwig_columns : sequence of str, optional
        Element columns written as bigWig [``activity`` when present].
    chrom_sizes : dict, optional
        Chromosome sizes for the bigWigs and ``bedToBigBed`` [largest end seen per chromosome].
    name, genome : str
        Track label prefix; genome of the IGV session.

    Returns
    -------
    dict
        ``links`` (pairs kept), ``files`` (written, relative to ``out_dir``) and ``score_range``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # The reader's row-level attrs (source lines) do not follow the subsets taken here.
    table = table.copy(deep=False)
    table.attrs = {}
    links = select_links(table, score_column, threshold)
    if links.empty:
        raise InputError(f"no pair has a finite {score_column}"
                         + (f" >= {threshold}" if threshold is not None else ""), field=score_column)
    sizes = dict(chrom_sizes) if chrom_sizes else _chrom_sizes(table)
    _write_table(bedpe_frame(links), out / "links.bedpe", "#" + "\t".join(BEDPE_COLUMNS))
    _write_table(interact_frame(links, score_column), out / "links.interact")
    write_text(out / "interact.as", INTERACT_AS)
    write_text(out / "chrom.sizes", "".join(f"{c}\t{s}\n" for c, s in sizes.items()))
    write_text(out / "bigInteract.sh",
               "#!/bin/sh\n# bigInteract from the interact text (UCSC kent tools' bedToBigBed).\n"
               'cd "$(dirname "$0")" && bedToBigBed -as=interact.as -type=bed5+13 links.interact '
               "chrom.sizes links.bb\n")
    (out / "bigInteract.sh").chmod(0o755)
    files = ["links.bedpe", "links.interact", "interact.as", "chrom.sizes", "bigInteract.sh"]
    if bigwig_columns is None:
        bigwig_columns = [c for c in ("activity",) if c in table.columns]
    bigwigs = []
    for column in bigwig_columns:
        if column not in table.columns:
            raise UsageError(f"--bigwig-column {column}: no such column in the table")
        missing = sorted(set(table["enhancer_chrom"].astype(str)) - set(sizes))
        if missing:
            raise InputError(f"chromosome(s) {', '.join(missing[:5])} not in the chromosome sizes")
        write_bigwig(_element_segments(table, column, sizes), out / f"{column}.bw", sizes)
        bigwigs.append(f"{column}.bw")
    write_text(out / "tracks.txt", _trackdb(name, score_column, bigwigs))
    write_text(out / "igv_session.xml", _igv_session(name, genome, bigwigs))
    files += bigwigs + ["tracks.txt", "igv_session.xml"]
    score_range = [float(links["_score"].min()), float(links["_score"].max())]
    log.info("%d links scored by %s (%.4g..%.4g) and %d bigWig(s) -> %s", len(links), score_column,
             *score_range, len(bigwigs), out)
    return {"links": len(links), "files": files, "score_range": score_range}
