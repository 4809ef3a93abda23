"""A one-line ``\\r`` progress counter for long steps (decoding files, evaluating, writing
the run's files), shown on a terminal only.

Off by default, so library use and tests print nothing; the command line turns it on
(:func:`enable`) unless ``--format json``. Even then it draws only when stderr is a TTY, so
logs and pipes never see it. Safe to update from worker threads; redraws at most every
0.1 s.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

_enabled = False


def enable(flag: bool = True) -> None:
    """Let :func:`progress` draw (the CLI calls this unless ``--format json``)."""
    global _enabled
    _enabled = bool(flag)


def progress(label: str, total: int | None = None) -> Progress:
    """A counter for one step; silent unless enabled and stderr is a terminal."""
    return Progress(label, total, enabled=_enabled)


class Progress:
    """``label: done/total`` on one line of stderr, cleared at the end."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        enabled: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.label, self.total, self.done = label, total, 0
        self.enabled = enabled and _isatty(self.stream)
        self._shown = 0
        self._drawn_at = 0.0
        self._lock = threading.Lock()

    def __enter__(self) -> Progress:
        self._draw(force=True)
        return self

    def update(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            self._draw(force=self.total is not None and self.done >= self.total)

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._drawn_at < 0.1:
            return
        self._drawn_at = now
        count = f"{self.done}/{self.total}" if self.total else str(self.done)
        text = f"{self.label}: {count}"
        self.stream.write("\r" + text.ljust(self._shown))
        self.stream.flush()
        self._shown = len(text)

    def __exit__(self, *exc: object) -> None:
        if self.enabled and self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
