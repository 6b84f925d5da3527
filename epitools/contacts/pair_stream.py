"""``epi-contacts`` on a pairs file in bounded memory: one promoter chromosome at a time.

Contacts of a pair depend only on its own chromosome's Hi-C (ABC normalises each chromosome by
its own mean row sum), so a table grouped by chromosome (as ``epi-candidates pairs`` writes it)
is processed exactly while memory holds one chromosome's pairs. Fitting the power law
(``fit=True``) pools every chromosome's diagonals, and an ungrouped table cannot be split, so
those two cases read the whole table.
"""

from __future__ import annotations

import logging

import pandas as pd

from epitools.contacts.matrix import open_contact_matrix
from epitools.contacts.pair_contacts import pair_contacts, unshared_error
from epitools.contacts import cooler_contacts as cc
from epitools.io.pairs import (UngroupedPairsError, iter_chromosome_frames, read_pairs, write_pairs,
                               write_pairs_stream)

log = logging.getLogger(__name__)


def write_pair_contacts(pairs_path, out, cool=None, **options) -> dict:
    """Add contacts to every pair of ``pairs_path`` and write the table to ``out``.

    Parameters
    ----------
    pairs_path, out : path
        Input pairs table and output table (canonical TSV).
    cool : path, optional
        ``.hic``/``.cool``/``.mcool``; None gives power-law contacts.
    options
        Passed to :func:`~epitools.contacts.pair_contacts.pair_contacts`.

    Returns
    -------
    dict
        The choices made (``out.attrs["contacts"]`` of :func:`pair_contacts`), with ``pairs``,
        ``powerlaw_fallback`` summed over chromosomes and ``streamed`` (whether the table was
        read one chromosome at a time).
    """
    if not options.get("fit"):
        try:
            info = _streamed(pairs_path, out, cool, options)
            if info is not None:
                return info
        except UngroupedPairsError as err:
            log.info("%s; reading the whole table", err)
    result = pair_contacts(read_pairs(pairs_path), cool, **options)
    write_pairs(result, out)
    return dict(result.attrs.get("contacts", {}), pairs=len(result), streamed=False)


def _streamed(pairs_path, out, cool, options) -> dict | None:
    """Per-chromosome pass; None when the table has no rows (the whole-table path writes its header)."""
    chromnames = None
    if cool is not None:
        chromnames = open_contact_matrix(cool, options.get("resolution"), options.get("balance", "auto"),
                                         options.get("divisive_weights")).chromnames
    info: dict = {}
    seen: list[str] = []
    shared = [False]

    def frames():
        for chrom, frame in iter_chromosome_frames(pairs_path):
            seen.append(chrom)
            if chromnames is not None and cc.resolve_chromosomes([chrom], chromnames):
                shared[0] = True
            result = pair_contacts(frame, cool, require_shared=False, **options)
            part = result.attrs.get("contacts", {})
            fallback = info.get("powerlaw_fallback", 0) + part.get("powerlaw_fallback", 0)
            info.update(part)
            if "powerlaw_fallback" in part:
                info["powerlaw_fallback"] = fallback
            yield result
        if chromnames is not None and seen and not shared[0]:
            # raised inside the writer: the partial output is discarded
            raise unshared_error(pd.Series(seen), open_contact_matrix(
                cool, options.get("resolution"), options.get("balance", "auto"),
                options.get("divisive_weights")))

    rows = write_pairs_stream(frames(), out)
    if not seen:
        return None
    return dict(info, pairs=rows, streamed=True)
