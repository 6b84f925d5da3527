import os
import stat

import pytest

from epitools.io.atomic import atomic_open, atomic_path, write_text


def test_write_is_renamed_into_place_with_normal_permissions(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    write_text(target, "hello")
    assert target.read_text() == "hello"
    mode = stat.S_IMODE(os.stat(target).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_failure_leaves_neither_partial_nor_temporary_file(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("half")
            raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_the_previous_file(tmp_path):
    target = tmp_path / "out.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("new")
            raise RuntimeError("crash")
    assert target.read_text() == "old"


def test_directory_output_replaces_the_old_one(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "stale").write_text("x")
    with atomic_path(target, is_dir=True) as tmp:
        (tmp / "fresh").write_text("y")
    assert sorted(p.name for p in target.iterdir()) == ["fresh"]


def test_temporary_name_records_host_and_writer_pid(tmp_path):
    from epitools.io.atomic import HOST

    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(f".out.txt.tmp-{HOST}.{os.getpid()}.")
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
