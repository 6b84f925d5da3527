"""Progress bars shared by every command.

A bar is shown only on an interactive terminal and never with ``--quiet``;
the CLI sets the global switch once, library code just calls :func:`progress`.
"""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

_enabled = True


def set_enabled(enabled: bool) -> None:
    """Turn progress bars on or off for the whole process (the CLI's ``--quiet``)."""
    global _enabled
    _enabled = bool(enabled)


def progress(iterable=None, total=None, desc: str | None = None, unit: str = "it", **kwargs):
    """Wrap ``iterable`` in a tqdm bar on stderr, disabled when not a TTY or quiet.

    Usable as a context manager with ``update()`` when ``iterable`` is None.
    """
    disable = not _enabled or not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable,
                file=sys.stderr, dynamic_ncols=True, **kwargs)
