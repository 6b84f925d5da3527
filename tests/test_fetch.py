"""epi-fetch against a loopback HTTP server that fails on purpose.

Covers resume (after a dropped connection and after SIGKILL), retries, checksums,
timeouts, locking between processes, safe file names, offline mode, size limits,
manifests and every preset pointed at the local server.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from epitools.cli.fetch import main
from epitools.errors import ChecksumError, FetchError, InputError, UsageError
from epitools.fetch import (DownloadItem, FetchOptions, SafeRedirect, extract_archive, fetch, parse_size,
                            sanitize_filename)

sys.path.insert(0, str(Path(__file__).parent))
from http_fault_server import FaultServer, Route  # noqa: E402

FAST = ["--allow-http", "--retries", "2", "--backoff", "0.01", "--timeout", "5", "-q"]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def payload(n: int, seed: int = 0) -> bytes:
    # Deterministic, incompressible-looking bytes.
    out, block = bytearray(), hashlib.sha256(str(seed).encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def server():
    with FaultServer() as srv:
        yield srv


@pytest.fixture
def dirs(tmp_path):
    return tmp_path / "cache", tmp_path / "out"


def run(args, cache, out=None):
    argv = list(args) + ["--cache", str(cache)] + (["--out", str(out)] if out else []) + FAST
    return CliRunner().invoke(main, argv, catch_exceptions=False)


def read_fetch_tsv(out: Path) -> list[dict]:
    lines = (out / "fetch.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def cache_files(cache: Path) -> list[str]:
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()
                  and p.name != ".lock")


# --------------------------------------------------------------------------- engine


def test_normal_download_then_cache_hit(server, dirs):
    cache, out = dirs
    body = payload(100_000)
    server.route("/data/file.bin", Route(body=body))
    result = run(["url", server.url("/data/file.bin"), "--md5", md5(body)], cache, out)
    assert result.exit_code == 0, result.output
    assert (out / "file.bin").read_bytes() == body
    (row,) = read_fetch_tsv(out)
    assert row == {"item": "url:file.bin", "path": "file.bin", "size": str(len(body)),
                   "md5": md5(body), "url": server.url("/data/file.bin")}
    # A second fetch is served from the cache: no new request reaches the server.
    result = run(["url", server.url("/data/file.bin"), "--md5", md5(body)], cache, out)
    assert result.exit_code == 0, result.output
    assert server.requests["/data/file.bin"] == 1


def test_resume_after_connection_drop(server, dirs):
    cache, out = dirs
    body = payload(200_000)
    server.route("/f.bin", Route(body=body, drop_after=120_000, chunk_size=8192))
    result = run(["url", server.url("/f.bin"), "--md5", md5(body)], cache, out)
    assert result.exit_code == 0, result.output
    assert (out / "f.bin").read_bytes() == body
    # The retry asked for the rest only; nothing was sent twice.
    assert server.range_requests["/f.bin"] == ["bytes=120000-"]
    assert server.bytes_sent["/f.bin"] == len(body)


def test_server_error_then_success(server, dirs):
    cache, out = dirs
    body = payload(5000)
    server.route("/flaky", Route(body=body, fail_first=2))
    result = run(["url", server.url("/flaky"), "--name", "flaky.dat"], cache, out)
    assert result.exit_code == 0, result.output
    assert server.requests["/flaky"] == 3
    assert (out / "flaky.dat").read_bytes() == body


def test_persistent_5xx_exits_1_after_retries(server, dirs):
    cache, out = dirs
    server.route("/down", Route(body=b"x", fail_first=100))
    result = run(["url", server.url("/down")], cache, out)
    assert result.exit_code == 1
    assert "HTTP 500" in result.output and "3 attempts" in result.output
    assert server.requests["/down"] == 3


def test_404_is_clear_and_leaves_nothing(server, dirs):
    cache, out = dirs
    result = run(["url", server.url("/missing.txt")], cache, out)
    assert result.exit_code == 1
    assert "HTTP 404" in result.output and "/missing.txt" in result.output
    assert server.requests["/missing.txt"] == 1  # a 404 is not retried
    assert not out.exists() or not any(out.iterdir())
    assert cache_files(cache) == []


def test_wrong_checksum_leaves_no_file(server, dirs):
    cache, out = dirs
    server.route("/c.bin", Route(body=payload(3000)))
    result = run(["url", server.url("/c.bin"), "--md5", "0" * 32], cache, out)
    assert result.exit_code == 1
    assert "md5 mismatch" in result.output
    assert not (out / "c.bin").exists()
    assert cache_files(cache) == []


def test_sha256_checked(server, dirs):
    cache, out = dirs
    body = payload(3000)
    server.route("/s.bin", Route(body=body))
    good = hashlib.sha256(body).hexdigest()
    assert run(["url", server.url("/s.bin"), "--sha256", "f" * 64], cache, out).exit_code == 1
    assert run(["url", server.url("/s.bin"), "--sha256", good], cache, out).exit_code == 0


def test_timeout_vs_slow_server(server, dirs):
    cache, out = dirs
    body = payload(40_000)
    server.route("/stalled", Route(body=body, first_byte_delay=1.5))
    server.route("/slow", Route(body=body, chunk_size=8192, chunk_delay=0.05))
    argv = ["--cache", str(cache), "--out", str(out), "--allow-http", "--retries", "1",
            "--backoff", "0.01", "--timeout", "0.3", "-q"]
    start = time.monotonic()
    result = CliRunner().invoke(main, ["url", server.url("/stalled")] + argv)
    assert result.exit_code == 1
    assert "timed out" in result.output
    assert time.monotonic() - start < 1.5 * 2  # gave up on the timeout, not the server
    # Data trickling in faster than the timeout is fine.
    result = CliRunner().invoke(main, ["url", server.url("/slow")] + argv)
    assert result.exit_code == 0, result.output
    assert (out / "slow").read_bytes() == body


def test_body_longer_than_content_length_is_an_error(server, dirs):
    cache, out = dirs
    server.route("/long", Route(body=payload(1000), extra_bytes=b"surplus" * 100))
    result = run(["url", server.url("/long")], cache, out)
    assert result.exit_code == 1
    assert "longer than its Content-Length" in result.output
    assert cache_files(cache) == []


def test_max_size(server, dirs):
    cache, out = dirs
    server.route("/big", Route(body=payload(50_000)))
    result = run(["url", server.url("/big"), "--max-size", "10K"], cache, out)
    assert result.exit_code == 1
    assert "max-size" in result.output
    assert cache_files(cache) == [] and not (out / "big").exists()


def test_http_needs_allow_http(server, dirs):
    cache, out = dirs
    server.route("/plain", Route(body=b"abc"))
    result = CliRunner().invoke(main, ["url", server.url("/plain"), "--cache", str(cache),
                                       "--out", str(out)])
    assert result.exit_code == 2
    assert "--allow-http" in result.output
    assert server.requests == {}


def test_content_disposition_traversal_is_neutralised(server, dirs):
    cache, out = dirs
    body = b"payload"
    server.route("/dl", Route(body=body, content_disposition='attachment; filename="../../evil.sh"'))
    result = run(["url", server.url("/dl")], cache, out)
    assert result.exit_code == 0, result.output
    assert (out / "evil.sh").read_bytes() == body
    root = cache.parent
    assert sorted(p.name for p in root.iterdir()) == ["cache", "out"]  # nothing escaped
    assert [p for p in cache_files(cache) if not p.endswith(".fetch.json")] == [
        str(Path("url") / Path(p).parent.name / "evil.sh") for p in cache_files(cache)
        if p.endswith("evil.sh")]


@pytest.mark.parametrize("raw, safe", [
    ("../../etc/passwd", "passwd"), ("..", None), ("/abs/x.txt", "x.txt"),
    ("C:\\win\\y.bed", "y.bed"), (".hidden", "hidden"), ("a b;rm -rf.txt", "a_b_rm_-rf.txt"), ("", None),
])
def test_sanitize_filename(raw, safe):
    assert sanitize_filename(raw) == safe


def test_redirect_to_plain_http_is_refused():
    req = urllib.request.Request("https://example.org/file")
    with pytest.raises(FetchError, match="non-https redirect"):
        SafeRedirect(allow_http=False).redirect_request(req, None, 302, "Found", {},
                                                         "http://example.org/file")


def _tar(entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_extract_archive(server, dirs):
    cache, out = dirs
    server.route("/good.tar.gz", Route(body=_tar([("a.txt", b"A"), ("sub/b.txt", b"B")])))
    result = run(["url", server.url("/good.tar.gz"), "--extract"], cache, out)
    assert result.exit_code == 0, result.output
    assert (out / "good" / "a.txt").read_bytes() == b"A"
    assert (out / "good" / "sub" / "b.txt").read_bytes() == b"B"
    assert sorted(r["path"] for r in read_fetch_tsv(out)) == ["good/a.txt", "good/sub/b.txt"]


def test_extract_refuses_escaping_members(server, dirs):
    cache, out = dirs
    server.route("/evil.tar.gz", Route(body=_tar([("ok.txt", b"1"), ("../../escaped.txt", b"2")])))
    result = run(["url", server.url("/evil.tar.gz"), "--extract"], cache, out)
    assert result.exit_code == 2
    assert "unsafe archive member '../../escaped.txt'" in result.output
    assert not list(cache.parent.rglob("escaped.txt"))
    assert not out.exists() or not any(out.iterdir())


def test_parse_size():
    assert parse_size("1024") == 1024
    assert parse_size("10K") == 10 * 1024
    assert parse_size("2G") == 2 * 1024 ** 3
    assert parse_size(None) is None


def test_parse_size_rejects_text_naming_the_option():
    with pytest.raises(UsageError, match="--max-size"):
        parse_size("lots")


@pytest.mark.parametrize("field, value, option", [
    ("retries", -1, "--retries"), ("backoff", -0.5, "--backoff"), ("timeout", 0, "--timeout"),
    ("workers", 0, "--workers"), ("max_size", -1, "--max-size"),
])
def test_fetch_options_reject_bad_values(tmp_path, field, value, option):
    with pytest.raises(UsageError, match=option):
        FetchOptions(cache_dir=tmp_path, **{field: value})


@pytest.mark.parametrize("args, option", [
    (["url", "https://example.org/f.txt", "--md5", "xyz"], "--md5"),
    (["url", "https://example.org/f.txt", "--name", "../f.txt"], "--name"),
    (["targetfinder", "--cell", "NOPE"], "--cell"),
    (["bengi", "--assay", "NOPE"], "--assay"),
    (["encode", "NOT_AN_ACCESSION"], "IDS"),
    (["genome", "hg38", "--md5", "0" * 32], "--md5"),
])
def test_bad_request_exits_2_naming_the_parameter(dirs, args, option):
    cache, out = dirs
    result = run(args, cache, out)
    assert result.exit_code == 2
    assert f"Invalid value for {option}:" in result.output
    assert not cache.exists() and not out.exists()


def test_bad_max_size_exits_2_naming_the_option(dirs):
    cache, out = dirs
    result = run(["url", "https://example.org/f.txt", "--max-size", "5Q"], cache, out)
    assert result.exit_code == 2 and "--max-size" in result.output


def test_corrupt_or_foreign_archive_is_an_input_error(tmp_path):
    truncated = tmp_path / "cut.tar.gz"
    truncated.write_bytes(_tar([("a.txt", b"A" * 5000), ("b.txt", b"B" * 5000)])[:-40])
    with pytest.raises(InputError, match="cut.tar.gz"):
        extract_archive(truncated, tmp_path / "x")
    plain = tmp_path / "plain.txt"
    plain.write_text("not an archive\n")
    with pytest.raises(InputError, match="not a tar or zip archive"):
        extract_archive(plain, tmp_path / "y")


def test_fetch_imports_only_io_errors_progress():
    import ast

    allowed = ("epitools.fetch", "epitools.io", "epitools.errors", "epitools.progress")
    package = Path(__file__).parents[1] / "epitools" / "fetch"
    for module in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                if name.startswith("epitools.") or name == "epitools":
                    # The package root only carries __version__.
                    assert name == "epitools" or name.startswith(allowed), f"{module.name} imports {name}"


def test_offline_with_and_without_cache(server, dirs):
    cache, out = dirs
    body = payload(2000)
    server.route("/o.txt", Route(body=body))
    missing = run(["url", server.url("/o.txt"), "--offline"], cache, out)
    assert missing.exit_code == 1
    assert "not in the cache" in missing.output and "--offline" in missing.output
    assert server.requests == {}
    assert run(["url", server.url("/o.txt")], cache, out).exit_code == 0
    out2 = out.parent / "out2"
    hit = run(["url", server.url("/o.txt"), "--offline"], cache, out2)
    assert hit.exit_code == 0, hit.output
    assert (out2 / "o.txt").read_bytes() == body
    assert server.requests["/o.txt"] == 1


def test_changed_remote_restarts_instead_of_splicing(server, dirs):
    cache, _ = dirs
    old, new = payload(50_000, seed=1), payload(50_000, seed=2)
    route = server.route("/v", Route(body=old, drop_after=20_000, drop_times=1, etag='"old"'))
    item = DownloadItem(key="t/v", url=server.url("/v"), label="v")
    opts = FetchOptions(cache_dir=cache, allow_http=True, retries=0, backoff=0.01, timeout=5)
    with pytest.raises(FetchError):
        fetch(item, opts)  # dropped halfway, no retries left: the partial file stays
    assert (cache / "t" / "v" / ".part").stat().st_size == 20_000
    route.body, route.etag = new, '"new"'
    result = fetch(item, opts)
    # If-Range carried the old ETag, so the server sent the whole new file.
    assert result.path.read_bytes() == new


def test_checksum_error_type(server, dirs):
    cache, _ = dirs
    server.route("/x", Route(body=b"abc"))
    opts = FetchOptions(cache_dir=cache, allow_http=True, retries=0)
    with pytest.raises(ChecksumError):
        fetch(DownloadItem(key="t/x", url=server.url("/x"), md5="1" * 32), opts)


# --------------------------------------------------------------------------- processes


def _cli(args):
    return [sys.executable, "-c", "from epitools.cli.fetch import main; main()"] + args


def test_sigkill_then_rerun_resumes(server, tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "out"
    body = payload(600_000)
    route = server.route("/k.bin", Route(body=body, chunk_size=16384, chunk_delay=0.03))
    args = ["url", server.url("/k.bin"), "--md5", md5(body), "--cache", str(cache),
            "--out", str(out)] + FAST
    proc = subprocess.Popen(_cli(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ))
    part = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        parts = list(cache.rglob(".part"))
        if parts and parts[0].stat().st_size >= len(body) // 3:
            part = parts[0]
            break
        time.sleep(0.02)
    assert part is not None, "the download never got going"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    server.wait_idle()
    kept = part.stat().st_size
    assert 0 < kept < len(body)
    assert not (out / "k.bin").exists()
    first = server.bytes_sent["/k.bin"]

    route.chunk_delay = 0.0
    server.reset_counts()
    done = subprocess.run(_cli(args), capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert server.bytes_sent["/k.bin"] == len(body) - kept < len(body)
    assert first >= kept
    assert md5((out / "k.bin").read_bytes()) == md5(body)
    assert not part.exists()


def test_two_processes_fetch_the_same_item_once(server, tmp_path):
    cache = tmp_path / "cache"
    body = payload(300_000)
    server.route("/shared.bin", Route(body=body, chunk_size=16384, chunk_delay=0.02))
    procs = [subprocess.Popen(_cli(["url", server.url("/shared.bin"), "--md5", md5(body), "--cache",
                                    str(cache), "--out", str(tmp_path / f"out{i}")] + FAST),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
             for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    for i in range(2):
        assert (tmp_path / f"out{i}" / "shared.bin").read_bytes() == body
    # The second process waited on the lock and found the first one's verified copy.
    assert server.requests["/shared.bin"] == 1
    assert server.bytes_sent["/shared.bin"] == len(body)


# --------------------------------------------------------------------------- manifest, dry run


def test_manifest_fetches_many(server, dirs, tmp_path):
    cache, out = dirs
    bodies = {f"/m{i}.txt": payload(1000 + i, seed=i) for i in range(3)}
    for path, body in bodies.items():
        server.route(path, Route(body=body))
    manifest = tmp_path / "items.tsv"
    manifest.write_text("# three plain files\nsource\tid\tmd5\n" + "".join(
        f"url\t{server.url(p)}\t{md5(b)}\n" for p, b in bodies.items()))
    result = run(["--manifest", str(manifest), "--workers", "3"], cache, out)
    assert result.exit_code == 0, result.output
    rows = read_fetch_tsv(out)
    assert sorted(r["path"] for r in rows) == ["m0.txt", "m1.txt", "m2.txt"]
    for path, body in bodies.items():
        assert (out / path.lstrip("/")).read_bytes() == body


def test_bad_manifest_line_names_file_and_line(tmp_path, dirs):
    cache, out = dirs
    manifest = tmp_path / "bad.tsv"
    manifest.write_text("source\tid\n# comment\ngenome\thg38\nencode\tNOT_AN_ACCESSION\n")
    result = run(["--manifest", str(manifest)], cache, out)
    assert result.exit_code == 2
    assert str(manifest) in result.output and "line 4" in result.output and "'id'" in result.output
    assert not out.exists()


def test_dry_run_prints_plan_and_writes_nothing(server, dirs):
    cache, out = dirs
    server.route("/d.bin", Route(body=b"abc"))
    result = run(["url", server.url("/d.bin"), "--dry-run"], cache)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split("\t") == ["item", "url", "size", "md5", "state"]
    assert lines[1].split("\t")[1] == server.url("/d.bin") and lines[1].endswith("missing")
    assert server.requests == {}
    assert not out.exists()


def test_source_and_manifest_exclusive(dirs, tmp_path):
    cache, out = dirs
    assert run([], cache, out).exit_code == 2
    assert run(["genome", "hg20"], cache, out).exit_code == 2


# --------------------------------------------------------------------------- presets


def test_encode_preset_resolves_metadata(server, dirs):
    cache, out = dirs
    body = gzip.compress(b"chr1\t10\t20\n" * 50)
    acc = "ENCFF001ABC"
    href = f"/files/{acc}/@@download/{acc}.bed.gz"
    server.route(href, Route(body=body))
    server.route(f"/files/{acc}/?format=json", Route(body=json.dumps(
        {"accession": acc, "href": href, "md5sum": md5(body), "file_size": len(body),
         "status": "released"}).encode(), content_type="application/json"))
    result = run(["encode", acc, "--base-url", server.base], cache, out)
    assert result.exit_code == 0, result.output
    assert (out / f"{acc}.bed.gz").read_bytes() == body
    (row,) = read_fetch_tsv(out)
    assert row["item"] == f"encode:{acc}" and row["md5"] == md5(body) and row["url"] == server.url(href)
    # Offline, the accession resolves from the cache without the metadata server.
    out2 = out.parent / "out2"
    server.reset_counts()
    assert run(["encode", acc, "--offline", "--base-url", server.base], cache, out2).exit_code == 0
    assert server.requests == {}


def test_encode_metadata_md5_is_enforced(server, dirs):
    cache, out = dirs
    acc = "ENCFF002XYZ"
    href = f"/files/{acc}/@@download/{acc}.bigWig"
    server.route(href, Route(body=b"tampered"))
    server.route(f"/files/{acc}/?format=json", Route(body=json.dumps(
        {"href": href, "md5sum": md5(b"original"), "file_size": 8}).encode()))
    result = run(["encode", acc, "--base-url", server.base], cache, out)
    assert result.exit_code == 1 and "md5 mismatch" in result.output


def test_4dn_preset(server, dirs):
    cache, out = dirs
    acc = "4DNFI1ABC2DE"
    body = payload(4000)
    href = f"/files-processed/{acc}/@@download/{acc}.mcool"
    server.route(href, Route(body=body))
    server.route(f"/{acc}/?format=json", Route(body=json.dumps(
        {"href": href, "md5sum": md5(body), "file_size": len(body)}).encode()))
    result = run(["4dn", acc, "--base-url", server.base], cache, out)
    assert result.exit_code == 0, result.output
    assert (out / f"{acc}.mcool").read_bytes() == body


FASTA = ">chr1\n" + "ACGTNACGTA" * 13 + "\nGGCC\n" + ">chr2\n" + "TTTTGGGGCC" * 7 + "\n"


def _serve_genome(server, assembly="hg38"):
    fa_gz = gzip.compress(FASTA.encode())
    sizes = b"chr1\t134\nchr2\t70\n"
    root = f"/goldenPath/{assembly}/bigZips"
    server.route(f"{root}/{assembly}.fa.gz", Route(body=fa_gz))
    server.route(f"{root}/{assembly}.chrom.sizes", Route(body=sizes))
    server.route(f"{root}/md5sum.txt", Route(body=(
        f"{md5(fa_gz)}  {assembly}.fa.gz\n{md5(sizes)}  {assembly}.chrom.sizes\n").encode()))
    return server.url("/goldenPath")


def test_genome_preset_bgzips_and_indexes(server, dirs):
    import pyfaidx
    cache, out = dirs
    base = _serve_genome(server)
    result = run(["genome", "hg38", "--base-url", base], cache, out)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["fetch.tsv", "hg38.chrom.sizes", "hg38.fa.gz", "hg38.fa.gz.fai", "hg38.fa.gz.gzi"]
    with open(out / "hg38.fa.gz", "rb") as fh:
        head = fh.read(16)
    assert head[12:14] == b"BC"  # BGZF, not plain gzip
    fasta = pyfaidx.Fasta(str(out / "hg38.fa.gz"))
    assert str(fasta["chr1"][:12]) == "ACGTNACGTAAC"
    assert len(fasta["chr1"]) == 134 and str(fasta["chr2"][-4:]) == "GGCC"
    assert (out / "hg38.chrom.sizes").read_text() == "chr1\t134\nchr2\t70\n"
    rows = {r["path"]: r for r in read_fetch_tsv(out)}
    assert rows["hg38.fa.gz"]["url"].endswith("/hg38/bigZips/hg38.fa.gz")
    assert rows["hg38.fa.gz"]["md5"] == md5((out / "hg38.fa.gz").read_bytes())
    # Offline re-run reuses the cached, already indexed product.
    out2 = out.parent / "out2"
    assert run(["genome", "hg38", "--base-url", base, "--offline"], cache, out2).exit_code == 0
    assert (out2 / "hg38.fa.gz.fai").read_text() == (out / "hg38.fa.gz.fai").read_text()


def test_genome_preset_checks_ucsc_md5(server, dirs):
    cache, out = dirs
    base = _serve_genome(server, "hg19")
    server.routes["/goldenPath/hg19/bigZips/hg19.fa.gz"].body = gzip.compress(b">chr1\nAAAA\n")
    result = run(["genome", "hg19", "--base-url", base], cache, out)
    assert result.exit_code == 1 and "md5 mismatch" in result.output


def test_genome_2bit(server, dirs):
    cache, out = dirs
    twobit = payload(500)
    root = "/goldenPath/hg19/bigZips"
    server.route(f"{root}/hg19.2bit", Route(body=twobit))
    server.route(f"{root}/hg19.chrom.sizes", Route(body=b"chr1\t10\n"))
    server.route(f"{root}/md5sum.txt", Route(body=f"{md5(twobit)}  hg19.2bit\n".encode()))
    result = run(["genome", "hg19", "--format", "2bit", "--base-url", server.url("/goldenPath")],
                 cache, out)
    assert result.exit_code == 0, result.output
    assert (out / "hg19.2bit").read_bytes() == twobit and (out / "hg19.chrom.sizes").exists()


TARGETFINDER_CSV = (
    "bin,enhancer_chrom,enhancer_distance_to_promoter,enhancer_end,enhancer_name,enhancer_start,label,"
    "promoter_chrom,promoter_end,promoter_name,promoter_start\n"
    "1,chr1,30000,6455189,K562|chr1:6454864-6455189,6454864,1,chr1,6425000,K562|chr1:6423000-6425000,6423000\n"
    "1,chr1,51000,6476189,K562|chr1:6475864-6476189,6475864,0,chr1,6425000,K562|chr1:6423000-6425000,6423000\n"
)


def test_targetfinder_preset_writes_pairs_tsv(server, dirs):
    from epitools.io import pairs
    cache, out = dirs
    server.route("/tf/K562/output-ep/pairs.csv", Route(body=TARGETFINDER_CSV.encode()))
    result = run(["targetfinder", "--cell", "K562", "--base-url", server.url("/tf")], cache, out)
    assert result.exit_code == 0, result.output
    table = pairs.read_pairs(out / "targetfinder.K562.pairs.tsv")
    assert len(table) == 2
    assert list(table["enhancer_start"]) == [6454864, 6475864]
    assert list(table["label"]) == [1, 0]
    (row,) = read_fetch_tsv(out)
    assert row["item"] == "targetfinder:K562" and row["url"].endswith("/K562/output-ep/pairs.csv")


def test_bengi_preset(server, dirs):
    from epitools.io import pairs
    cache, out = dirs
    rows = ("1\t64604.0\tchr6\t226523\t228463\tchr6:226523-228463|K562|EH37E0821432\tchr6\t290597\t292597\t"
            "chr6:292096-292097|K562|ENSG00000112679.10|ENST00000344450.5|+\n"
            "0\t80000.0\tchr6\t226523\t228463\tchr6:226523-228463|K562|EH37E0821432\tchr6\t306000\t308000\t"
            "chr6:307000-307001|K562|ENSG00000137275.9|ENST00000259806.1|+\n")
    server.route("/bengi/K562.HiC-Benchmark.v3.tsv.gz", Route(body=gzip.compress(rows.encode())))
    result = run(["bengi", "--cell", "K562", "--assay", "HiC", "--base-url", server.url("/bengi")],
                 cache, out)
    assert result.exit_code == 0, result.output
    assert (out / "K562.HiC-Benchmark.v3.tsv.gz").exists()
    table = pairs.read_pairs(out / "bengi.K562.HiC.pairs.tsv")
    assert list(table["label"]) == [1, 0] and list(table["promoter_start"]) == [290597, 306000]
