"""``epi-fetch``: download genomes, benchmark pair sets, ENCODE and 4DN files.

Files are verified into a cache (resumable, checksummed, locked) and then linked or
copied into ``--out`` with a ``fetch.tsv`` listing item, path, size, md5 and URL.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from epitools.cli._common import command, out_option
from epitools.errors import UsageError
from epitools.fetch import (GENOME_FORMATS, PLAN_COLUMNS, SOURCES, FetchOptions, RequestError,
                            default_cache_dir, deliver, fetch_targets, make_request, parse_size, plan,
                            read_manifest, resolve)

log = logging.getLogger("epitools.cli.fetch")

EPILOG = """\b
Examples:
  epi-fetch genome hg38 -o ref/                 bgzipped FASTA + .fai/.gzi + chrom sizes
  epi-fetch genome hg19 --format 2bit -o ref/
  epi-fetch targetfinder --cell K562 -o pairs/  TargetFinder pairs -> pairs.tsv
  epi-fetch bengi --cell K562 --assay HiC -o pairs/
  epi-fetch encode ENCFF123ABC ENCFF456DEF -o tracks/
  epi-fetch url https://host/file.bed.gz --md5 0123... -o data/
  epi-fetch --manifest items.tsv -o data/       (columns: source id [cell assay format md5 sha256 name])
\b
Base URLs: --base-url, or EPITOOLS_UCSC_URL, EPITOOLS_TARGETFINDER_URL, EPITOOLS_BENGI_URL,
EPITOOLS_ENCODE_URL, EPITOOLS_4DN_URL. 4DN downloads need EPITOOLS_4DN_KEY/EPITOOLS_4DN_SECRET."""

# The command-line parameter behind each field a RequestError can name.
REQUEST_FIELD_PARAMETER = {"source": "SOURCE", "id": "IDS", "url": "IDS", "cell": "--cell",
                           "assay": "--assay", "format": "--format", "md5": "--md5",
                           "sha256": "--sha256", "name": "--name", "extract": "--extract"}


@command(help="Download genomes, benchmark pair sets, ENCODE and 4DN files into a verified "
         "cache and link them into --out with a fetch.tsv.\n\nSOURCE is one of: " + ", ".join(SOURCES)
         + ". IDS are an assembly (genome), cell lines (targetfinder), accessions "
           "(encode, 4dn) or a URL (url).", epilog=EPILOG)
@click.argument("source", required=False, type=click.Choice(SOURCES, case_sensitive=False))
@click.argument("ids", nargs=-1)
@click.option("--cell", "cells", multiple=True, help="Cell line (targetfinder, bengi); repeatable. "
              "Default: all.")
@click.option("--assay", "assays", multiple=True, help="BENGI assay (HiC, CTCF-ChIAPET, "
              "RNAPII-ChIAPET); repeatable. Default: all.")
@click.option("--format", "genome_format", type=click.Choice(GENOME_FORMATS), default="fa",
              help="Genome as bgzipped FASTA + index, or UCSC 2bit.")
@click.option("--md5", help="Expected md5 of a url download.")
@click.option("--sha256", help="Expected sha256 of a url download.")
@click.option("--name", help="File name for a url download (default: from the server or the URL).")
@click.option("--extract", is_flag=True, help="Unpack a url download (tar/zip) into --out; "
              "members escaping the directory are refused.")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False),
              help="TSV of items to fetch (header: source, id, ...).")
@out_option(help="Directory receiving the files and fetch.tsv.", required=False)
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default=None,
              help="Cache directory [default: $EPITOOLS_CACHE or the user cache dir]")
@click.option("--offline", is_flag=True, help="Use only the cache; fail if something is missing.")
@click.option("--dry-run", is_flag=True, help="Print what would be fetched (TSV) and stop.")
@click.option("--allow-http", is_flag=True, help="Also accept plain http:// URLs.")
@click.option("--retries", type=click.IntRange(0), default=5, help="Retries on timeouts, resets, 5xx.")
@click.option("--backoff", type=click.FloatRange(0), default=1.0,
              help="First retry delay in seconds; doubles each retry.")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=60.0,
              help="Seconds without data before a connection counts as failed.")
@click.option("--max-size", default=None, help="Refuse files larger than this (e.g. 500M, 4G).")
@click.option("--workers", type=click.IntRange(1), default=4, help="Concurrent downloads.")
@click.option("--base-url", default=None, help="Override the preset's base URL (mirrors, tests).")
def main(source, ids, cells, assays, genome_format, md5, sha256, name, extract, manifest, out,
         cache_dir, offline, dry_run, allow_http, retries, backoff, timeout, max_size, workers, base_url):
    if bool(source) == bool(manifest):
        raise UsageError("give either a SOURCE (genome, targetfinder, bengi, encode, 4dn, url) "
                         "or --manifest, not both or neither")
    if not out and not dry_run:
        raise UsageError("--out is required (except with --dry-run)")
    options = FetchOptions(cache_dir=Path(cache_dir) if cache_dir else default_cache_dir(),
                           offline=offline, allow_http=allow_http, retries=retries, backoff=backoff,
                           timeout=timeout, max_size=parse_size(max_size), workers=workers)
    if manifest:
        if base_url:
            raise UsageError("--base-url applies to a SOURCE; with --manifest use the "
                             "EPITOOLS_*_URL environment variables")
        requests = read_manifest(manifest)
    else:
        try:
            requests = [make_request(source, ids, cells, assays, genome_format, md5, sha256,
                                     name, base_url, extract)]
        except RequestError as exc:
            raise click.BadParameter(str(exc), param_hint=REQUEST_FIELD_PARAMETER.get(exc.field)) from exc
    targets = [t for request in requests for t in resolve(request, options, dry_run=dry_run)]

    if dry_run:
        click.echo("\t".join(PLAN_COLUMNS))
        for row in plan(targets, options):
            click.echo("\t".join(str(row[c]) for c in PLAN_COLUMNS))
        return

    outputs = fetch_targets(targets, options)
    manifest_path = deliver(outputs, out)
    log.info("%d file(s) in %s (listed in %s; cache %s)", len(outputs), out, manifest_path.name,
             options.cache_dir)
