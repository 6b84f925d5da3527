"""Unpacking fetched archives (tar, tar.gz/bz2/xz, zip) without letting members escape."""

from __future__ import annotations

import gzip
import lzma
import os
import tarfile
import zipfile
import zlib
from pathlib import Path

from epitools.errors import InputError

# What a truncated or corrupt archive raises while being read.
_CORRUPT = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile,
            lzma.LZMAError)


def _member_error(name: str, dest: Path) -> str | None:
    target = (dest / name).resolve()
    if os.path.isabs(name) or name.startswith(("/", "\\")) or ".." in Path(name).parts:
        return "absolute path or '..' component"
    if dest.resolve() not in target.parents and target != dest.resolve():
        return "escapes the target directory"
    return None


def _tar_member_error(member: tarfile.TarInfo, dest: Path) -> str | None:
    problem = _member_error(member.name, dest)
    if problem is None and (member.issym() or member.islnk()):
        link = member.linkname if member.islnk() else str(Path(member.name).parent / member.linkname)
        problem = _member_error(link, dest) and "link target escapes the target directory"
    if problem is None and not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        problem = "device, fifo or other special file"
    return problem


def extract_archive(archive, dest) -> list[str]:
    """Unpack a tar (plain/gz/bz2/xz) or zip archive into ``dest``; return member file names.

    Members with absolute paths, ``..`` components, links pointing outside ``dest``,
    or device files are refused (the whole archive is rejected before anything is written).

    Raises
    ------
    InputError
        Not an archive, a corrupt one, or an unsafe member (named in the message).
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            return _extract_zip(archive, dest)
        if not tarfile.is_tarfile(archive):
            raise InputError("not a tar or zip archive", archive)
        return _extract_tar(archive, dest)
    except getattr(tarfile, "FilterError", ()) as exc:
        raise InputError(f"unsafe archive member: {exc}", archive) from exc
    except _CORRUPT as exc:
        raise InputError(f"corrupt archive: {exc}", archive) from exc


def _extract_zip(archive: Path, dest: Path) -> list[str]:
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        for m in members:
            problem = _member_error(m.filename, dest)
            if problem:
                raise InputError(f"unsafe archive member {m.filename!r}: {problem}", archive)
        zf.extractall(dest, members)
        return [m.filename for m in members]


def _extract_tar(archive: Path, dest: Path) -> list[str]:
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        for m in members:
            problem = _tar_member_error(m, dest)
            if problem:
                raise InputError(f"unsafe archive member {m.name!r}: {problem}", archive)
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: a second line of defence
            tf.extractall(dest, filter="data")
        else:
            tf.extractall(dest)
        return [m.name for m in members if m.isfile()]
