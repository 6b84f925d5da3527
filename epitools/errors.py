"""Typed exceptions raised by the library.

Only ``epitools.cli`` turns these into messages and exit codes:
``InputError`` and ``UsageError`` exit 2, every other ``EpitoolsError`` exits 1.
"""

from __future__ import annotations

import os


class EpitoolsError(Exception):
    """Base class of every error the library raises on purpose."""

    exit_code = 1


class InputError(EpitoolsError):
    """Bad input data: names the file, the line or record, and the field.

    Parameters
    ----------
    message : str
        What is wrong.
    path : str or os.PathLike, optional
        The offending file.
    line : int, optional
        1-based line number in ``path`` (header included), or record number.
    field : str, optional
        Column or field name.
    """

    exit_code = 2

    def __init__(self, message: str, path=None, line: int | None = None, field: str | None = None):
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class UsageError(EpitoolsError):
    """Options that contradict each other or do not fit the input."""

    exit_code = 2


class GenomeError(InputError):
    """A genome file or a chromosome that cannot be used."""


class ModelError(EpitoolsError):
    """A checkpoint or model configuration that cannot be used as asked
    (for example an encoding mismatch between checkpoint and data)."""

    exit_code = 2


class FetchError(EpitoolsError):
    """A download that failed after its retries, or a cache miss in offline mode."""

    exit_code = 1


class ChecksumError(FetchError):
    """A downloaded file whose checksum does not match the expected one."""


def os_error_cause(exc: OSError) -> str:
    """The cause of an ``OSError`` in words ("no space left on device", "read-only file system")."""
    if exc.errno:
        return os.strerror(exc.errno).lower()
    return exc.strerror or str(exc) or type(exc).__name__


class OutputError(EpitoolsError):
    """An output that cannot be written: names the final output path (never a temporary
    name) and the cause in words.

    Parameters
    ----------
    path : str or os.PathLike
        The final output path.
    cause : str
        Why, e.g. "no space left on device".
    """

    exit_code = 1

    def __init__(self, path, cause: str):
        self.path = os.fspath(path)
        self.cause = cause
        super().__init__(f"cannot write {self.path}: {cause}")
