"""The operators' log: full tracebacks of failures, in ``<home>/logs/prescreen.log``.

Users see a message in words (a file's ``error``, a command's ``error:`` line);
the traceback behind it goes here, never to the terminal. The file is rotated
at a bounded size. Logging never raises and never prints: a data folder that
cannot hold the log (read-only, full) loses the traceback, not the batch.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

LOG_FILE = Path("logs") / "prescreen.log"
_LOGGER_PREFIX = "prescreen.oplog"


class _QuietRotatingHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose own failures are swallowed (logging's default prints them to stderr)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return
        super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        pass


def log_path(home: str | os.PathLike) -> Path:
    return Path(home) / LOG_FILE


def _logger(home: Path, max_bytes: int, backups: int) -> logging.Logger:
    path = log_path(home).absolute()
    logger = logging.getLogger(f"{_LOGGER_PREFIX}.{path}")
    if not logger.handlers:
        handler = _QuietRotatingHandler(path, maxBytes=max_bytes, backupCount=backups, delay=True, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s pid %(process)d %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # never to the root logger (and from there to a terminal)
    return logger


def log_failure(home: str | os.PathLike, what: str, exc: BaseException | None = None, *,
                max_bytes: int = 1_000_000, backups: int = 3) -> Path | None:
    """Append ``what`` and the traceback of ``exc`` to the data folder's log.

    Returns the log's path when the folder can hold it (the message for the user
    says where the details are), else None. Control characters in ``what`` (a file
    name) are escaped so the log reads safely in a terminal too.
    """
    home = Path(home)
    try:
        if not home.is_dir():  # never creates a data folder (a mistyped --home stays absent)
            return None
        log_path(home).parent.mkdir(exist_ok=True)
        if not os.access(log_path(home).parent, os.W_OK):
            return None
    except (OSError, ValueError):
        return None
    logger = _logger(home, max_bytes, backups)
    safe = what.encode("unicode_escape", "backslashreplace").decode("ascii")
    argv = " ".join(sys.argv)[:300].encode("unicode_escape", "backslashreplace").decode("ascii")
    logger.error("%s (command: %s)", safe, argv, exc_info=(type(exc), exc, exc.__traceback__) if exc else None)
    return log_path(home)
