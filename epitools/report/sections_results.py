"""Report sections ``attribution`` (TF-MoDISco motifs with logos and JASPAR matches; TF
pairs), ``contacts`` (distance decay and power law of ``epi-contacts``) and ``versions``
(the pipeline's ``versions.yml``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from epitools.errors import InputError
from epitools.report import page

log = logging.getLogger(__name__)

N_TF_PAIRS = 15


def _read_commented(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """A TSV that may start with ``#`` lines (warnings) → (table, those lines)."""
    with open(path, encoding="utf-8") as fh:
        comments = [line[1:].strip() for line in fh if line.startswith("#")]
    try:
        frame = pd.read_csv(path, sep="\t", comment="#")
    except pd.errors.EmptyDataError:  # a run that found no patterns writes an empty table
        frame = pd.DataFrame()
    return frame, comments


def planted_motifs(truths) -> set:
    """JASPAR ids planted by the simulation(s) whose ``truth.json`` is among the inputs."""
    ids = set()
    for path in truths:
        try:
            motifs = json.loads(Path(path).read_text()).get("motifs", {})
        except (OSError, json.JSONDecodeError, AttributeError):
            continue
        ids |= {m.get("jaspar_id") for side in motifs.values() for m in side if isinstance(m, dict)}
    return ids - {None}


def _match_cell(rec: dict, planted: set) -> str:
    out = []
    for r in range(1, 10):
        jid = rec.get(f"match{r}_id")
        if not isinstance(jid, str) or not jid:
            break
        q = rec.get(f"match{r}_q")
        flag = " <b>planted</b>" if jid in planted else ""
        out.append(f"{page.esc(jid)} {page.esc(rec.get(f'match{r}_tf', ''))} (q {page.number(q)}){flag}")
    return "<br>".join(out) or page.MISSING


def _motifs_block(path: Path, planted: set, roots, block_id: str) -> str:
    table, comments = _read_commented(path)
    name = page.relative_name(path, roots)
    body = [page.warning(c) for c in comments]
    if "warning" in table:
        body += [page.warning(w) for w in table["warning"].dropna().astype(str).unique()]
    if table.empty:
        return page.block(block_id, f"Motifs: {name}",
                          "".join(body) + page.note("TF-MoDISco-lite found no patterns."))
    logos = path.parent / "logos"
    rows = []
    for rec in table.to_dict("records"):
        pattern = str(rec["pattern"])
        images = "".join(page.img_file(logos / f"{pattern}.{kind}.png", f"logo-{kind}", f"{pattern} {kind}")
                         for kind in ("cwm", "ic"))
        rows.append({"pattern": pattern, "sign": rec.get("strand", ""), "seqlets": rec.get("n_seqlets"),
                     "consensus": rec.get("consensus", ""), "logos (contribution, information)": images,
                     "JASPAR matches (Tomtom)": _match_cell(rec, planted)})
    view = pd.DataFrame(rows)
    body.append(page.table(view, text_columns=("pattern", "sign", "consensus"),
                           raw_columns=("logos (contribution, information)", "JASPAR matches (Tomtom)")))
    if planted:
        body.append(page.note("planted = a motif the simulation planted (truth.json)."))
    return page.block(block_id, f"Motifs: {name}", "".join(body))


def _tf_pairs_block(path: Path, roots, block_id: str) -> str:
    table, comments = _read_commented(path)
    name = page.relative_name(path, roots)
    body = [page.warning(c) for c in comments]
    if table.empty:
        body.append(page.note("No TF combination was tested."))
    else:
        order = "q_value" if "q_value" in table else table.columns[0]
        top = table.sort_values(order, kind="stable").head(N_TF_PAIRS)
        body.append(page.note(f"{len(table)} enhancer-TF × promoter-TF combinations tested; "
                              f"top {len(top)} by q-value."))
        body.append(page.table(top, digits=3, text_columns=[c for c in top
                                                               if not pd.api.types.is_numeric_dtype(top[c])]))
    body.append(page.figs([page.img_file(path.parent / "tf_pairs.png", "tf-pairs-heatmap", "TF pairs")]))
    return page.block(block_id, f"TF pairs: {name}", "".join(body))


def attribution_section(outputs, roots, chance_note: str = "") -> str:
    """Motif tables (logos inlined) and TF-pair tables."""
    if not (outputs.motifs or outputs.tf_pairs):
        return ""
    planted = planted_motifs(outputs.truths)
    body = [page.warning(chance_note) if chance_note else ""]
    body += [_motifs_block(p, planted, roots, i) for p, i in zip(outputs.motifs, page.block_ids("attribution-motifs"))]
    body += [_tf_pairs_block(p, roots, i) for p, i in zip(outputs.tf_pairs, page.block_ids("attribution-tf-pairs"))]
    return page.section("attribution", "Attribution: motifs and TF pairs", "".join(body))


def _contacts_block(path: Path, roots, figures: bool, block_id: str) -> str:
    from epitools.contacts.powerlaw import powerlaw_contact

    meta = json.loads(path.with_name(path.name + ".json").read_text())
    t = pd.read_csv(path, sep="\t", usecols=lambda c: c in ("distance", "contact", "contact_norm"))
    name = page.relative_name(path, roots)
    if "distance" not in t or "contact" not in t:
        raise InputError("contacts table lacks distance/contact columns", path=path)
    distance = t["distance"].to_numpy(np.float64)
    contact = pd.to_numeric(t["contact"], errors="coerce").to_numpy(np.float64)
    kind = "fitted to this Hi-C" if meta.get("powerlaw_fitted") else "given (ABC's K562 fit unless set)"
    facts = pd.DataFrame({"field": list(meta), "value": [json.dumps(v) if isinstance(v, (dict, list))
                                                         else str(v) for v in meta.values()]})
    body = [page.table(facts, text_columns=("field", "value"))]
    if figures:
        from epitools.report.plots_genome import decay_figure

        law = powerlaw_contact(distance, float(meta["gamma"]), float(meta["scale"]),
                               min_distance=float(meta.get("resolution") or 5000))
        label = f"power law {kind}: γ {float(meta['gamma']):.3f}, scale {float(meta['scale']):.3f}"
        fig = decay_figure(distance, contact, {label: law}, title=f"{name} ({len(t)} pairs)")
        body.append(page.figs([page.figure(fig, "distance-decay", f"distance decay {name}")]))
    return page.block(block_id, f"Contacts: {name}", "".join(body))


def contacts_section(outputs, roots, figures: bool = True) -> str:
    """Distance decay of each ``epi-contacts`` table with the power law it used."""
    if not outputs.contacts:
        return ""
    body = [_contacts_block(p, roots, figures, i) for p, i in zip(outputs.contacts, page.block_ids("contacts-table"))]
    return page.section("contacts", "Hi-C contacts: distance decay and power law", "".join(body))


def versions_table(paths) -> pd.DataFrame:
    """``process tool version`` rows of nf-core ``versions.yml`` files (duplicates dropped)."""
    import yaml

    rows = []
    for path in paths:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"cannot read versions: {exc}", path=path) from exc
        if not isinstance(data, dict):
            raise InputError("versions.yml is not a mapping of process to tool versions", path=path)
        for process, tools in data.items():
            if isinstance(tools, dict):
                rows += [(str(process), str(tool), str(version)) for tool, version in tools.items()]
            else:  # a flat ``tool: version`` file
                rows.append(("-", str(process), str(tools)))
    frame = pd.DataFrame(rows, columns=["process", "tool", "version"]).drop_duplicates()
    return frame.sort_values(["process", "tool"], kind="stable").reset_index(drop=True)


def versions_section(outputs) -> str:
    """Software versions reported by the pipeline's processes."""
    if not outputs.versions:
        return ""
    table = versions_table(outputs.versions)
    return page.section("versions", "Software versions",
                        page.note(f"{len(outputs.versions)} versions.yml files.")
                        + page.table(table, text_columns=("process", "tool", "version")))
