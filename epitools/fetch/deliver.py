"""Running resolved targets: the dry-run plan, fetching them, delivering files to ``--out``."""

from __future__ import annotations

from pathlib import Path

from epitools.errors import UsageError
from epitools.fetch.cache import cached_record, partial_size, place
from epitools.fetch.catalogue import Output, Target
from epitools.fetch.http import fetch_many
from epitools.fetch.items import FetchOptions
from epitools.io.atomic import atomic_open

PLAN_COLUMNS = ("item", "url", "size", "md5", "state")
FETCH_TSV_COLUMNS = ("item", "path", "size", "md5", "url")


def plan(targets: list[Target], options: FetchOptions) -> list[dict]:
    """What a fetch would do, one dict per download (keys :data:`PLAN_COLUMNS`).

    ``state`` is ``cached``, ``partial:<bytes>`` or ``missing``.
    """
    rows = []
    for target in targets:
        for item in target.downloads:
            record = cached_record(options.cache_dir, item.key)
            partial = partial_size(options.cache_dir, item.key)
            if record is not None and (item.md5 is None or record["md5"] == item.md5):
                state = "cached"
            elif partial is not None:
                state = f"partial:{partial}"
            else:
                state = "missing"
            rows.append({"item": item.label, "url": item.url,
                         "size": item.size if item.size is not None else "",
                         "md5": item.md5 or "", "state": state})
    return rows


def fetch_targets(targets: list[Target], options: FetchOptions) -> list[Output]:
    """Download every target's items (concurrently) and build their outputs in the cache."""
    results = fetch_many([item for t in targets for item in t.downloads], options)
    return [output for target in targets for output in target.outputs(results, options)]


def deliver(outputs: list[Output], out_dir) -> Path:
    """Link (or copy) each output into ``out_dir`` and write ``out_dir/fetch.tsv``.

    Returns the path of ``fetch.tsv`` (columns :data:`FETCH_TSV_COLUMNS`; ``path``
    relative to ``out_dir``).

    Raises
    ------
    UsageError
        Two outputs that would get the same name in ``out_dir``.
    """
    out_dir = Path(out_dir)
    seen = {}
    for output in outputs:
        if seen.get(output.name, output.source) != output.source:
            raise UsageError(f"two items would both be written as {out_dir / output.name}")
        seen[output.name] = output.source
    rows = []
    for output in outputs:
        dest = place(output.source, out_dir, output.name)
        rows.append((output.item, dest.relative_to(out_dir).as_posix(), str(output.size), output.md5,
                     output.url))
    manifest = out_dir / "fetch.tsv"
    with atomic_open(manifest, "w") as fh:
        fh.write("\t".join(FETCH_TSV_COLUMNS) + "\n")
        for row in rows:
            fh.write("\t".join(row) + "\n")
    return manifest
