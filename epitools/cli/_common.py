"""Options and error handling shared by every command.

Every command gets ``-v/--verbose`` and ``-q/--quiet``; library errors become a
one-line message on stderr and an exit code (2: bad usage or input, 1: other failure).
"""

from __future__ import annotations

import functools
import logging
import sys

import click

from epitools import progress as _progress
from epitools.errors import EpitoolsError, os_error_cause
from epitools.io.atomic import Terminated, cleanup_on_signals, missing_dirs, remove_empty_dirs

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "show_default": True,
                    "max_content_width": 100}

log = logging.getLogger("epitools")


def configure_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Send ``epitools`` log records to stderr at the level the flags ask for."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    root = logging.getLogger("epitools")
    root.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s" if not verbose
                                           else "%(asctime)s %(name)s %(levelname)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    _progress.set_enabled(not quiet)


def _verbosity(f):
    f = click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors; no progress bars.")(f)
    f = click.option("-v", "--verbose", count=True, show_default=False, help="More detail (debug log, tracebacks).")(f)
    return f


def _fail(exc: BaseException, verbose: int, message: str, code: int):
    if verbose:
        log.error("failed", exc_info=exc)
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def handle_errors(f):
    """Configure logging from -v/-q and turn library errors into exit codes.

    While the command runs SIGTERM removes its temporary outputs (exit 143, as SIGINT exits
    130); a command that fails removes the ``--out`` folders it created when they hold no file.
    """

    @functools.wraps(f)
    def wrapper(*args, verbose=0, quiet=False, **kwargs):
        configure_logging(verbose, quiet)
        out = kwargs.get("out")
        created = missing_dirs(out) if out else []
        succeeded = False
        try:
            with cleanup_on_signals():
                result = f(*args, **kwargs)
            succeeded = True
            return result
        except EpitoolsError as exc:
            _fail(exc, verbose, str(exc), exc.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except Terminated as exc:
            click.echo(f"Terminated ({exc}).", err=True)
            sys.exit(128 + exc.signum)
        except OSError as exc:
            # the file the system names and the cause in words, never errno jargon alone
            where = exc.filename if exc.filename is not None else type(exc).__name__
            _fail(exc, verbose, f"{where}: {os_error_cause(exc)}", 1)
        except Exception as exc:  # noqa: BLE001 - last resort: a message, not a traceback
            _fail(exc, verbose, f"{type(exc).__name__}: {exc}", 1)
        finally:
            if not succeeded:
                remove_empty_dirs(created)

    return _verbosity(wrapper)


def command(name: str | None = None, **kwargs):
    """``click.command`` with the shared context settings, verbosity options and error handling."""

    def decorator(f):
        return click.command(name=name, context_settings=CONTEXT_SETTINGS, **kwargs)(handle_errors(f))

    return decorator


def group(name: str | None = None, **kwargs):
    """``click.group`` with the shared context settings (subcommands use :func:`command`)."""
    return click.group(name=name, context_settings=CONTEXT_SETTINGS, **kwargs)


def seed_option(default: int = 0):
    """``--seed``: the random seed; the same seed gives the same output on CPU."""
    return click.option("--seed", type=int, default=default, help="Random seed (reproducible on CPU).")


def out_option(help: str = "Output directory.", file: bool = False, required: bool = True):
    """``--out``: where the command writes its outputs."""
    return click.option("-o", "--out", required=required, help=help,
                        type=click.Path(dir_okay=not file, file_okay=file, writable=True))


class DefaultGroup(click.Group):
    """A group that runs a default subcommand when the first argument names none.

    ``default`` is a subcommand name, or a function of the argument list that
    returns one (or None for no default). Lets a command grow subcommands while
    its old call form (``epi-report runs/ -o r.html``) keeps working.
    """

    def __init__(self, *args, default=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.default = default

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            name = self.default(args) if callable(self.default) else self.default
            if name is not None:
                args = [name, *args]
        return super().parse_args(ctx, args)


def default_group(default, name: str | None = None, **kwargs):
    """``click.group`` whose old call form falls through to ``default`` (see :class:`DefaultGroup`)."""
    return click.group(name=name, cls=DefaultGroup, default=default,
                       context_settings=CONTEXT_SETTINGS, **kwargs)
