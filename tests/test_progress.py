"""Progress on a terminal is a bar; in cluster logs (no TTY) a line every N seconds with the
count, elapsed time, rate and ETA; nothing with --quiet."""

from __future__ import annotations

import io

from epitools import progress as P


def test_log_progress_writes_periodic_lines_with_rate_and_eta(monkeypatch):
    clock = iter(float(t) for t in range(0, 1000, 10))
    monkeypatch.setattr(P.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    bar = P.LogProgress(range(6), desc="predict", unit="chunk", file=out, interval=15)
    assert list(bar) == list(range(6))
    lines = out.getvalue().splitlines()
    assert lines and all(line.startswith("predict: ") for line in lines)
    assert "/6 chunk" in lines[0] and "elapsed" in lines[0] and "chunk/s" in lines[0] and "ETA" in lines[0]
    assert lines[-1].startswith("predict: 6/6 chunk (100%)")  # the step says it finished


def test_log_progress_as_context_manager_without_total():
    out = io.StringIO()
    with P.LogProgress(desc="encode", unit="pairs", file=out, interval=0) as bar:
        bar.update(500)
        bar.update(250)
    text = out.getvalue()
    assert "encode: 500 pairs" in text and "encode: 750 pairs" in text and "ETA" not in text


def test_progress_picks_lines_off_a_terminal_and_nothing_when_quiet(monkeypatch):
    monkeypatch.setattr(P.sys.stderr, "isatty", lambda: False, raising=False)
    assert isinstance(P.progress(range(3)), P.LogProgress)
    P.set_enabled(False)
    try:
        bar = P.progress(range(3))
        assert not isinstance(bar, P.LogProgress) and bar.disable
    finally:
        P.set_enabled(True)
