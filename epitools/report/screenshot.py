"""Render an HTML page to a PNG in headless Chromium and fail on any console message.

``python -m epitools.report.screenshot report.html report.png`` (used by ``make
report-screenshot``): exit 0 with the PNG written, 1 when the browser logged console
messages (the report has no script, so any message is an error: a script error, a blocked
resource), 2 when no browser is found or the page is missing.

The browser draws a tall viewport (``--screenshot`` captures the viewport, not the page),
taller again while the page does not fit, and the blank rows below the page are cropped off.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from epitools.errors import EpitoolsError, InputError, UsageError
from epitools.io.atomic import atomic_path

# Debian: chromium-headless-shell (small) or chromium; other systems' names after them.
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "chrome-headless-shell",
            "google-chrome", "google-chrome-stable")
_CONSOLE = re.compile(r":CONSOLE[(:]\d*\)?\]\s*(.*)")
BOTTOM_MARGIN = 24


def find_browser() -> str | None:
    """Path of the first headless-capable Chromium on PATH (``$CHROMIUM`` first), or None."""
    for name in (os.environ.get("CHROMIUM"), *BROWSERS):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def console_messages(log: str) -> list[str]:
    """The page's console messages in a Chromium ``--enable-logging=stderr`` log."""
    return [m.group(1) for m in map(_CONSOLE.search, log.splitlines()) if m]


def crop_blank_bottom(path, margin: int = BOTTOM_MARGIN) -> bool:
    """Cut the rows below the last non-background row of a PNG (in place).

    The background is the bottom-right pixel's colour. Returns False when the content
    reaches the bottom edge (the page was cut) or the image is one colour (nothing tells
    where the page ends), True when blank rows were cropped.
    """
    from PIL import Image

    with Image.open(path) as im:
        pixels = np.asarray(im.convert("RGB"))
    used = np.flatnonzero((pixels != pixels[-1, -1]).any(axis=(1, 2)))
    if not used.size:
        return False
    last = int(used.max()) + 1
    Image.fromarray(pixels[:min(last + margin, pixels.shape[0])]).save(path, format="PNG")
    return last + margin <= pixels.shape[0]


def _draw(browser: str, page: Path, shot: Path, profile: str, width: int, height: int,
          timeout: float) -> str:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", f"--window-size={width},{height}",
           f"--screenshot={shot}", page.resolve().as_uri()]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise EpitoolsError(f"{browser} did not finish within {timeout:g} s") from exc
    if not shot.is_file():
        raise EpitoolsError(f"{browser} wrote no screenshot (exit {done.returncode}): "
                            f"{done.stderr.strip()[-400:]}")
    return done.stderr


def screenshot(page, out, width: int = 1300, height: int = 12000, browser: str | None = None,
               timeout: float = 120.0, max_height: int = 48000) -> list[str]:
    """Draw ``page`` (HTML file) into ``out`` (PNG, atomically); returns console messages.

    Parameters
    ----------
    width, height : int
        Viewport in CSS pixels; a page taller than ``height`` is drawn again at twice the
        height, up to ``max_height``, where it is cut.
    browser : str, optional
        Chromium executable (default: :func:`find_browser`).
    """
    page = Path(page)
    if not page.is_file():
        raise InputError("no such HTML page", path=page)
    browser = browser or find_browser()
    if browser is None:
        raise UsageError(f"no Chromium found on PATH (tried {', '.join(BROWSERS)}); on Debian: "
                         "apt-get install -y chromium-headless-shell")
    with tempfile.TemporaryDirectory(prefix="epi-shot-") as profile, atomic_path(out) as tmp:
        shot = Path(profile) / "shot.png"
        while True:
            log = _draw(browser, page, shot, profile, width, height, timeout)
            if crop_blank_bottom(shot) or height >= max_height:
                break
            height = min(2 * height, max_height)
        shutil.move(shot, tmp)
    return console_messages(log)


def main(argv=None) -> int:
    """``python -m epitools.report.screenshot PAGE PNG [--width W] [--height H]``."""
    parser = argparse.ArgumentParser(prog="python -m epitools.report.screenshot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("page", help="HTML file")
    parser.add_argument("out", help="PNG to write")
    parser.add_argument("--width", type=int, default=1300, help="viewport width (CSS px)")
    parser.add_argument("--height", type=int, default=12000,
                        help="first viewport height (doubled while the page is taller, up to 48000)")
    args = parser.parse_args(argv)
    try:
        messages = screenshot(args.page, args.out, width=args.width, height=args.height)
    except (InputError, UsageError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except EpitoolsError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    for message in messages:
        print(f"console: {message}", file=sys.stderr)
    if messages:
        print(f"Error: {len(messages)} console message(s) while rendering {args.page}", file=sys.stderr)
        return 1
    print(f"{args.page} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
