"""What every command shares: one line on stderr and exit code 2 for an expected failure."""
from __future__ import annotations

import functools
import os
import sys

from pipeline.errors import SfvosError

DEBUG_ENV = "SFVOS_DEBUG"


def debug_enabled() -> bool:
    """``SFVOS_DEBUG=1`` (what ``sfvos --debug`` sets): tracebacks for expected errors too."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def one_line_errors(main):
    """Wrap a command: an :class:`SfvosError` prints ``error: <message>`` (one line) and exits 2.

    The message already names the file or parameter, the problem and the fix; a traceback
    adds nothing (``--debug`` / ``SFVOS_DEBUG=1`` shows it). Any other exception is a bug
    and keeps its traceback.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except SfvosError as exc:
            if debug_enabled():
                raise
            message = " ".join(str(exc).split())  # one line, whatever the message held
            print(f"error: {message}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper
