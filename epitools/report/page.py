"""HTML building blocks of the report: sections, tables, inlined images, notes.

Every image is inlined as a base64 PNG and carries ``data-figure`` (what it shows), so the
page is one file and tests can find each figure.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1250px;padding:0 1em;color:#222}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin:1.2em 0 .4em}nav a{margin-right:1em}
table{border-collapse:collapse;font-size:13px;margin:.5em 0 1.2em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;vertical-align:middle}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
td.text,th.text{text-align:left}
.figs{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.figs img{max-width:400px;height:auto}.figs img.wide{max-width:820px}
.figs img[data-figure=locus]{max-width:610px}
td img{height:72px;vertical-align:middle}
.warn{background:#fff4e0;border-left:4px solid #e69500;padding:.5em .8em;margin:.6em 0}
.note{color:#555;font-size:13px}"""

MISSING = "–"


def esc(value) -> str:
    """HTML-escaped text of any value."""
    return html.escape(str(value))


def number(value, digits: int = 3) -> str:
    """A number for a table cell: fixed ``digits`` decimals, small p-values in e-notation."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or pd.isna(value):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    if value != 0 and abs(value) < 10 ** -digits:
        return f"{value:.2g}"
    return f"{value:.{digits}f}"


def img(png: bytes, figure: str, alt: str, wide: bool = False) -> str:
    """An inlined PNG; ``figure`` names its kind (``data-figure``); ``wide`` doubles its width."""
    data = base64.b64encode(png).decode("ascii")
    cls = ' class="wide"' if wide else ""
    return (f'<img data-figure="{esc(figure)}" alt="{esc(alt)}"{cls} '
            f'src="data:image/png;base64,{data}">')


def img_file(path, figure: str, alt: str | None = None, wide: bool = False) -> str:
    """An inlined PNG read from ``path`` (empty when the file is gone)."""
    path = Path(path)
    if not path.is_file():
        return ""
    return img(path.read_bytes(), figure, alt or path.stem, wide)


def figure(fig, kind: str, alt: str, wide: bool = False) -> str:
    """A matplotlib figure inlined as PNG (the figure is closed)."""
    from epitools.report.plots import png_bytes

    return img(png_bytes(fig), kind, alt, wide)


def figs(images) -> str:
    """A row of images (empty strings dropped)."""
    images = [i for i in images if i]
    return f"<div class='figs'>{''.join(images)}</div>" if images else ""


def table(frame: pd.DataFrame, digits: int = 3, text_columns=(), raw_columns=()) -> str:
    """A table of ``frame``: numbers formatted, text escaped; ``raw_columns`` hold HTML."""
    text = set(text_columns) | set(raw_columns)
    head = "".join(f"<th class='text'>{esc(c)}</th>" if c in text else f"<th>{esc(c)}</th>"
                   for c in frame.columns)
    rows = []
    for rec in frame.itertuples(index=False):
        cells = []
        for col, value in zip(frame.columns, rec):
            if col in raw_columns:
                cells.append(f"<td class='text'>{value}</td>")
            elif col in text:
                cells.append(f"<td class='text'>{esc(value)}</td>")
            elif isinstance(value, str):  # preformatted numbers, e.g. mean ± s.d.
                cells.append(f"<td>{esc(value)}</td>")
            else:
                cells.append(f"<td>{number(value, digits)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def warning(text: str) -> str:
    """A highlighted warning paragraph (``text`` is escaped)."""
    return f"<p class='warn'>{esc(text)}</p>"


def note(text: str) -> str:
    """A small explanatory paragraph (``text`` is escaped)."""
    return f"<p class='note'>{esc(text)}</p>"


def block(block_id: str, title: str, body: str) -> str:
    """A titled sub-block of a section with a stable ``id``."""
    return f"<div id='{esc(block_id)}'><h3>{esc(title)}</h3>{body}</div>"


def block_ids(base: str):
    """Stable ids of repeated blocks: ``base``, ``base-2``, ``base-3``, ..."""
    yield base
    n = 2
    while True:
        yield f"{base}-{n}"
        n += 1


def section(section_id: str, title: str, body: str) -> str:
    """A top-level section with a stable ``id`` (tests and links find it by that)."""
    return f"<section id='{esc(section_id)}'><h2>{esc(title)}</h2>{body}</section>"


def relative_name(path, roots) -> str:
    """``path`` relative to the first of ``roots`` it lies under (else as given)."""
    path = Path(path)
    for root in map(Path, roots):
        try:
            rel = path.relative_to(root)
        except ValueError:
            continue
        return str(Path(root.name) / rel) if str(rel) != "." else root.name
    return str(path)
