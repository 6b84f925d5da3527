"""Progress shared by every command.

On an interactive terminal a tqdm bar; elsewhere (cluster logs, pipelines) one plain line
every ``EPITOOLS_PROGRESS_SECONDS`` seconds (default 30) with the count, elapsed time, rate
and ETA, so a long step shows it is alive. Nothing with ``--quiet``: the CLI sets the global
switch once, library code just calls :func:`progress`.
"""

from __future__ import annotations

import os
import sys
import time

from tqdm.auto import tqdm

_enabled = True


def set_enabled(enabled: bool) -> None:
    """Turn progress reports on or off for the whole process (the CLI's ``--quiet``)."""
    global _enabled
    _enabled = bool(enabled)


def _interval() -> float:
    try:
        return max(float(os.environ.get("EPITOOLS_PROGRESS_SECONDS", "30")), 0.0)
    except ValueError:
        return 30.0


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:d}:{rest % 60:02d}"


class LogProgress:
    """A progress counter that writes a line to ``file`` at most every ``interval`` seconds.

    Mirrors the part of tqdm's interface the package uses: iteration, ``update``, ``close``
    and use as a context manager.
    """

    def __init__(self, iterable=None, total=None, desc: str | None = None, unit: str = "it",
                 file=None, interval: float | None = None, initial: int = 0, **_):
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.desc, self.unit = total, desc or "progress", unit
        self.file = file if file is not None else sys.stderr
        self.interval = _interval() if interval is None else interval
        self.n = initial
        self.start = self.last = time.monotonic()
        self._closed = False

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._report(now)

    def line(self, now: float | None = None) -> str:
        """``desc: n/total unit (p%) elapsed m:ss, r unit/s, ETA m:ss``."""
        elapsed = (now if now is not None else time.monotonic()) - self.start
        rate = self.n / elapsed if elapsed > 0 else 0.0
        done = f"{self.n:,}" + (f"/{self.total:,}" if self.total else "") + f" {self.unit}"
        if self.total:
            done += f" ({100 * self.n / self.total:.0f}%)"
        text = f"{self.desc}: {done}, elapsed {_duration(elapsed)}, {rate:,.1f} {self.unit}/s"
        if self.total and rate > 0 and self.n < self.total:
            text += f", ETA {_duration((self.total - self.n) / rate)}"
        return text

    def _report(self, now: float) -> None:
        print(self.line(now), file=self.file, flush=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # a step that took longer than one interval says that it finished
        if time.monotonic() - self.start >= self.interval:
            self._report(time.monotonic())

    def set_postfix(self, *args, **kwargs) -> None:
        pass


def progress(iterable=None, total=None, desc: str | None = None, unit: str = "it", **kwargs):
    """Wrap ``iterable`` in a progress report on stderr: a tqdm bar on a terminal, periodic
    lines otherwise (:class:`LogProgress`), nothing when quiet.

    Usable as a context manager with ``update()`` when ``iterable`` is None.
    """
    if _enabled and not sys.stderr.isatty():
        return LogProgress(iterable, total=total, desc=desc, unit=unit, **kwargs)
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not _enabled,
                file=sys.stderr, dynamic_ncols=True, **kwargs)
