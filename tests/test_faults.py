"""Fault injection: degenerate folds, concurrent runs, overlapping tracks, corrupt bytes,
signals, full or read-only disks and failed commands. Each test checks the exit code (or the
exception), the message and that no partial or temporary file is left behind."""

from __future__ import annotations

import errno
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from _planted import PlantedCNN, make_store  # registers planted_cnn
from epitools.errors import InputError, ModelError, OutputError, UsageError

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


def _leftovers(folder: Path) -> list[str]:
    """Hidden temporary outputs (``.<name>.tmp-...``) anywhere under ``folder``."""
    return sorted(p.name for p in Path(folder).rglob(".*.tmp-*"))


def _set_labels(store: str, chroms, value: int) -> None:
    """Give every row of ``store`` on ``chroms`` the label ``value``."""
    with h5py.File(store, "r+") as h5:
        chrom = np.array([c.decode() if isinstance(c, bytes) else c for c in h5["pairs/enhancer_chrom"][:]])
        label = h5["label"][:]
        label[np.isin(chrom, list(chroms))] = value
        h5["label"][...] = label


def _train_args(store, out, *extra):
    return ["--data", str(store), "--model", "planted_cnn", "--split", "chrom", "--folds", "4",
            "--fold", "1", "--epochs", "1", "--device", "cpu", "--out", str(out), *extra]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("store") / "planted.h5", n=160)


def _split_chroms(store, tmp_path) -> tuple[list, list]:
    from epitools.training.loop import TrainConfig
    from epitools.training.sources import PairSource

    source = PairSource(store)
    split = source.split(TrainConfig(data=store, model="planted_cnn", out=str(tmp_path), split="chrom",
                                     folds=4, fold=1))
    source.close()
    return split.info["test_chroms"], split.info["val_chroms"]


# -- degenerate folds --------------------------------------------------------------------------
@pytest.mark.parametrize("part", ["test", "validation"])
def test_fold_without_positives_is_refused_before_training(store, tmp_path, part):
    from epitools.cli.train import main as train_cli

    degenerate = tmp_path / "degenerate.h5"
    degenerate.write_bytes(Path(store).read_bytes())
    test_chroms, val_chroms = _split_chroms(store, tmp_path)
    chroms = test_chroms if part == "test" else val_chroms
    _set_labels(str(degenerate), chroms, 0)
    out = tmp_path / "runs" / "run"
    res = CliRunner().invoke(train_cli, _train_args(degenerate, out))
    assert res.exit_code == 2, res.output
    assert f"the {part} rows ({', '.join(chroms)}) hold 0 positives and" in res.output
    assert "--fold 1" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "runs").exists(), "a refused run leaves no folder"


def test_fold_without_negatives_is_refused(store, tmp_path):
    from epitools.training.loop import TrainConfig, train

    degenerate = tmp_path / "positive.h5"
    degenerate.write_bytes(Path(store).read_bytes())
    test_chroms, _ = _split_chroms(store, tmp_path)
    _set_labels(str(degenerate), test_chroms, 1)
    with pytest.raises(UsageError, match=r"test rows .* hold \d+ positives and 0 negatives"):
        train(TrainConfig(data=str(degenerate), model="planted_cnn", out=str(tmp_path / "run"), folds=4,
                          fold=1, epochs=1, device="cpu"))
    assert not (tmp_path / "run").exists()


# -- run lock ----------------------------------------------------------------------------------
_HOLD_LOCK = ("import sys, time\nfrom epitools.io.runlock import run_lock\n"
              "with run_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(120)\n")


def test_second_run_on_a_locked_directory_exits_2_naming_the_holder(store, tmp_path):
    from epitools.cli.train import main as train_cli

    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        res = CliRunner().invoke(train_cli, _train_args(store, out))
        assert res.exit_code == 2, res.output
        assert f"is in use by another run (PID {holder.pid} on host" in res.output
        assert sorted(p.name for p in out.iterdir()) == ["run.lock"], "the refused run wrote nothing"
    finally:
        holder.kill()
        holder.wait()
    # the holder was SIGKILLed: its lock is stale and the next run takes it over
    res = CliRunner().invoke(train_cli, _train_args(store, out))
    assert res.exit_code == 0, res.output
    assert f"taking over the lock {out / 'run.lock'} of PID {holder.pid}, which no longer runs" in res.output
    assert not (out / "run.lock").exists() and (out / "metrics.json").exists()
    assert _leftovers(out) == []


def test_lock_of_another_host_is_refused(tmp_path):
    from epitools.io.runlock import run_lock

    (tmp_path / "run.lock").write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": "x"}))
    with pytest.raises(UsageError, match="locked by PID 1 on host elsewhere.*delete the lock file"):
        with run_lock(tmp_path):
            pass
    assert (tmp_path / "run.lock").exists(), "someone else's lock is left alone"


# -- bedGraph overlaps -------------------------------------------------------------------------
def test_overlapping_bedgraph_intervals_are_refused_or_merged_on_request(tmp_path):
    from epitools.io.tracks import element_signal, read_bedgraph

    track = tmp_path / "signal.bedGraph"
    track.write_text("track type=bedGraph\n# comment\nchr1\t0\t10\t1\nchr1\t20\t30\t1\nchr1\t5\t15\t2\n")
    with pytest.raises(InputError) as info:
        read_bedgraph(track)
    assert info.value.exit_code == 2 and info.value.line == 5
    assert str(track) in str(info.value) and "overlaps chr1:0-10 of line 3" in str(info.value)
    elements = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [0, 8], "end": [30, 12]})
    merged = read_bedgraph(track, merge_overlaps=True)
    assert merged[["start", "end", "value"]].values.tolist() == [[0, 5, 1], [5, 10, 3], [10, 15, 2], [20, 30, 1]]
    # the merged signal is the sum over intervals of value x overlap
    np.testing.assert_allclose(element_signal(elements, track, merge_overlaps=True),
                               [10 * 1 + 10 * 2 + 10 * 1, 2 * 1 + 4 * 2])


# -- corrupt bytes -----------------------------------------------------------------------------
GARBAGE = b"chrom\tstart\n\xff\xfe\x00\x9c binary \x81\n"


def _truncated_gzip(text: str) -> bytes:
    data = gzip.compress(text.encode() * 500)
    return data[: len(data) // 2]


def _readers():
    from epitools.io.genes import read_elements, read_expression, read_genes
    from epitools.io.tracks import read_bedgraph, read_chrom_sizes
    from epitools.prioritize.benchmark import read_benchmark

    return {"bedgraph": (read_bedgraph, "chr1\t0\t10\t1\n", ".bedGraph"),
            "chrom_sizes": (read_chrom_sizes, "chr1\t1000\n", ".sizes"),
            "genes": (read_genes, "gene\tchrom\ttss\nA\tchr1\t5\n", ".tsv"),
            "expression": (read_expression, "gene\texpression\nA\t1\n", ".tsv"),
            "elements": (read_elements, "chr1\t0\t10\te1\t1\t1\n", ".bed"),
            "benchmark": (read_benchmark, "chrom\tchromStart\n", ".tsv")}


@pytest.mark.parametrize("name", list(_readers()))
@pytest.mark.parametrize("fault", ["binary", "truncated_gzip"])
def test_every_reader_names_the_file_of_undecodable_or_truncated_bytes(tmp_path, name, fault):
    reader, good_line, suffix = _readers()[name]
    path = tmp_path / (f"bad{suffix}" if fault == "binary" else f"bad{suffix}.gz")
    path.write_bytes(GARBAGE if fault == "binary" else _truncated_gzip(good_line))
    with pytest.raises(InputError) as info:
        reader(path)
    message = str(info.value)
    assert info.value.exit_code == 2 and message.startswith(str(path))
    if fault == "binary":
        assert "not UTF-8 text" in message and info.value.line == 2
    else:
        assert "corrupt or truncated gzip data" in message


def test_corrupt_store_chunk_names_the_store_and_dataset(tmp_path):
    from epitools.io.store import open_store

    path = Path(make_store(tmp_path / "s.h5", n=64))
    with h5py.File(path, "a") as h5:
        data = np.zeros((4096, 64), np.uint8)
        h5.create_dataset("enhancer_extra", data=data, chunks=(4096, 64), compression="gzip")
    with h5py.File(path, "r") as h5:
        offset = h5["enhancer_extra"].id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as fh:
        fh.seek(offset + 8)
        fh.write(os.urandom(64))
    with open_store(path) as store, pytest.raises(InputError) as info:
        store.read([0, 1], fields=["enhancer_extra"])
    assert str(path) in str(info.value) and info.value.field == "enhancer_extra"
    assert "corrupt or truncated data" in str(info.value)


@pytest.mark.parametrize("fault", ["garbage", "truncated", "pickle"])
def test_unreadable_checkpoints_name_the_file_and_never_advise_weights_only_false(tmp_path, fault):
    from epitools.io.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint

    path = tmp_path / "model.pt"
    if fault == "garbage":
        path.write_bytes(os.urandom(256))
    elif fault == "truncated":
        save_checkpoint(make_checkpoint(PlantedCNN(), "planted_cnn", "onehot"), path)
        path.write_bytes(path.read_bytes()[:200])
    else:
        torch.save({"run": os.system}, path)
    with pytest.raises(InputError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "weights_only" not in message and "likely succeed" not in message
    expected = {"garbage": "not a torch checkpoint", "truncated": "truncated or corrupt",
                "pickle": "refused: the file holds a Python object (posix.system)"}[fault]
    assert expected in message.replace("nt.system", "posix.system")


def test_relabelled_checkpoint_names_the_file(tmp_path):
    from epitools.io.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
    from epitools.models.registry import model_from_checkpoint

    path = tmp_path / "relabelled.pt"
    ckpt = make_checkpoint(PlantedCNN(), "planted_cnn", "onehot")
    ckpt["hparams"]["filters"] = 4  # weights of 8 filters under the name of a 4-filter model
    save_checkpoint(ckpt, path)
    with pytest.raises(ModelError) as info:
        model_from_checkpoint(load_checkpoint(path))
    assert str(info.value).startswith(f"{path}: checkpoint weights do not fit model 'planted_cnn'")
    ckpt["model"] = "no_such_model"
    save_checkpoint(ckpt, path)
    with pytest.raises(ModelError, match=f"{path}: checkpoint names unknown model 'no_such_model'"):
        model_from_checkpoint(load_checkpoint(path))


# -- temporary outputs: exceptions, SIGTERM, SIGKILL ---------------------------------------------
def _pairs_with_sequences(path: Path, n: int = 60) -> Path:
    rng = np.random.default_rng(0)
    starts = np.arange(n) * 1000
    seq = lambda: ["".join(rng.choice(list("ACGT"), 40)) for _ in range(n)]  # noqa: E731
    pd.DataFrame({"enhancer_chrom": "chr1", "enhancer_start": starts, "enhancer_end": starts + 40,
                  "promoter_chrom": "chr1", "promoter_start": starts + 500, "promoter_end": starts + 540,
                  "label": np.arange(n) % 2, "enhancer_seq": seq(), "promoter_seq": seq()}
                 ).to_csv(path, sep="\t", index=False)
    return path


def _encode_args(pairs, out):
    return ["pairs", "--pairs", str(pairs), "--out", str(out), "--enhancer-length", "40",
            "--promoter-length", "40", "--chunk-size", "5", "--compression", "lzf"]


# epi-encode in a subprocess whose store writer pauses after each chunk, so it can be signalled
_SLOW_ENCODE = ("import sys, time\nimport epitools.io.store as store\n"
                "append = store.StoreWriter.append\n"
                "def slow(self, *a, **k):\n    append(self, *a, **k)\n    time.sleep(0.5)\n"
                "store.StoreWriter.append = slow\n"
                "from epitools.cli.encode import main\nmain(sys.argv[1:])\n")


def _encode_until_temp_exists(pairs, out):
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_ENCODE, *_encode_args(pairs, out)],
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    deadline = time.time() + 120
    while not _leftovers(out.parent):
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline, "epi-encode never started writing"
        time.sleep(0.02)
    time.sleep(0.3)  # a chunk or more written
    return proc


def test_sigterm_during_encode_removes_the_temporary_store(tmp_path):
    pairs = _pairs_with_sequences(tmp_path / "pairs.tsv")
    out = tmp_path / "out" / "store.h5"
    proc = _encode_until_temp_exists(pairs, out)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert "Terminated" in proc.stderr.read()
    assert _leftovers(tmp_path) == [] and not out.exists()


def test_sigkill_leftover_of_encode_is_removed_by_the_next_run(tmp_path):
    from epitools.cli.encode import main as encode_cli

    pairs = _pairs_with_sequences(tmp_path / "pairs.tsv")
    out = tmp_path / "out" / "store.h5"
    proc = _encode_until_temp_exists(pairs, out)
    proc.kill()
    proc.wait()
    leftover = _leftovers(tmp_path)
    assert len(leftover) == 1 and leftover[0].startswith(".store.h5.tmp-") and f".{proc.pid}." in leftover[0]
    assert not out.exists()
    res = CliRunner().invoke(encode_cli, _encode_args(pairs, out))
    assert res.exit_code == 0, res.output
    assert f"left by a killed run (PID {proc.pid}) writing {out}" in res.output
    assert _leftovers(tmp_path) == [] and out.exists()


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    from epitools.io.atomic import HOST, remove_stale_temps

    live = tmp_path / f".out.txt.tmp-{HOST}.{os.getppid()}.abc"
    other_host = tmp_path / f".out.txt.tmp-elsewhere.{2 ** 22 + 7}.abc"
    for path in (live, other_host):
        path.write_text("x")
    assert remove_stale_temps(tmp_path / "out.txt") == []
    assert live.exists() and other_host.exists()


# -- OS errors on outputs ----------------------------------------------------------------------
def test_full_disk_names_the_final_path_not_the_temporary_one(tmp_path):
    from epitools.io.atomic import atomic_open

    target = tmp_path / "new" / "deeper" / "out.txt"
    with pytest.raises(OutputError) as info:
        with atomic_open(target) as fh:
            fh.write("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert str(info.value) == f"cannot write {target}: no space left on device"
    assert info.value.exit_code == 1
    assert list(tmp_path.iterdir()) == [], "neither temp file nor the folders made for it remain"


def test_read_only_file_system_names_the_final_path(tmp_path, monkeypatch):
    import tempfile

    from epitools.io.atomic import write_text

    def read_only(*args, dir=None, prefix="", **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", os.path.join(dir, prefix + "x1y2"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OutputError, match=f"cannot write {tmp_path / 'out.txt'}: read-only file system$"):
        write_text(tmp_path / "out.txt", "x")
    assert list(tmp_path.iterdir()) == []


def test_disk_full_during_training_exits_1_naming_the_checkpoint(store, tmp_path, monkeypatch):
    import epitools.io.checkpoint as checkpoint
    from epitools.cli.train import main as train_cli

    def full(obj, fh):
        fh.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", full)
    out = tmp_path / "run"
    res = CliRunner().invoke(train_cli, _train_args(store, out))
    assert res.exit_code == 1, res.output
    assert f"Error: cannot write {out / 'model.pt'}: no space left on device" in res.output
    assert ".tmp-" not in res.output
    assert not out.exists(), "nothing written: the run folder is removed again"


def test_raw_os_errors_become_words_and_the_file(tmp_path):
    from epitools.cli._common import command

    @command()
    def fails():
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "x"))

    res = CliRunner().invoke(fails, [])
    assert res.exit_code == 1 and f"Error: {tmp_path / 'x'}: read-only file system" in res.output


# -- failed commands leave no empty --out folder -------------------------------------------------
def test_a_failed_command_removes_the_out_folders_it_created(tmp_path):
    import click

    from epitools.cli._common import command, out_option

    @command()
    @out_option()
    def fails(out):
        (Path(out) / "sub").mkdir(parents=True)
        raise InputError("bad row", path="in.tsv", line=3)

    new = tmp_path / "a" / "b"
    res = CliRunner().invoke(fails, ["--out", str(new)])
    assert res.exit_code == 2 and "in.tsv, line 3: bad row" in res.output
    assert list(tmp_path.iterdir()) == []
    existing = tmp_path / "mine"
    existing.mkdir()
    res = CliRunner().invoke(fails, ["--out", str(existing)])
    assert res.exit_code == 2 and existing.is_dir(), "a folder that was there before stays"
    assert isinstance(fails, click.Command)


def test_abc_command_refuses_an_overlapping_track_unless_asked_to_merge(tmp_path):
    from epitools.cli.prioritize import main as prioritize_cli

    starts = np.array([1_000, 20_000, 40_000])
    pd.DataFrame({"enhancer_chrom": "chr1", "enhancer_start": starts, "enhancer_end": starts + 500,
                  "promoter_chrom": "chr1", "promoter_start": 60_000, "promoter_end": 60_001,
                  "gene": "G"}).to_csv(tmp_path / "pairs.tsv", sep="\t", index=False)
    track = tmp_path / "dhs.bedGraph"
    track.write_text("chr1\t0\t30000\t1\nchr1\t20100\t20200\t5\nchr1\t39000\t42000\t2\n")
    out = tmp_path / "new" / "abc.tsv"
    args = ["abc", "--pairs", str(tmp_path / "pairs.tsv"), "--dnase", str(track), "-o", str(out)]
    res = CliRunner().invoke(prioritize_cli, args)
    assert res.exit_code == 2, res.output
    assert f"{track}, line 2: interval chr1:20100-20200 overlaps chr1:0-30000 of line 1" in res.output
    assert not (tmp_path / "new").exists()
    res = CliRunner().invoke(prioritize_cli, [*args, "--merge-overlaps"])
    assert res.exit_code == 0, res.output
    activity = pd.read_csv(out, sep="\t")["activity"].to_numpy()
    assert activity[1] > activity[0] and _leftovers(tmp_path) == []
