"""Key paths (``callbacks[0].patience``) and the one-line texts that quote them.

Every located message zoo prints names a key path: in a spec, a run record, a sweep file,
a ``--set`` override. Both directions live here, below everything that reports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

MAX_MESSAGE = 1000  # characters of one message (long inputs are cut, not echoed whole)
MAX_SHOWN = 60  # characters of one key or value quoted inside a message


def format_path(path: Sequence[str | int]) -> str:
    """``callbacks[0].patience`` style; odd keys (control characters, huge) kept to one line."""
    out = ""
    for step in path:
        text = brief(step, quote=False)
        out += f"[{text}]" if isinstance(step, int) else (f".{text}" if out else text)
    return out


_PATH_STEP = re.compile(r"\[(\d+)\]|(\.?)([^.\[\]]+)")


def parse_path(text: str) -> list[str | int] | None:
    """The steps of ``callbacks[0].patience`` or ``callbacks.0.patience`` (both spellings);
    ``None`` when the text is not a key path. Steps of digits are list indexes."""
    text = text.strip()
    path: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _PATH_STEP.match(text, pos)
        if match is None:
            return None
        index, dot, name = match.groups()
        if index is not None:
            path.append(int(index))
        elif bool(dot) != bool(path):
            return None  # a dot is needed between steps, and not before the first
        else:
            path.append(int(name) if name.isdigit() else name)
        pos = match.end()
    return path or None


def brief(value: Any, quote: bool = True, limit: int = MAX_SHOWN) -> str:
    """A key or value as shown inside a one-line message: escaped, and cut when long."""
    if isinstance(value, str) and not quote:
        text = value if value.isprintable() else value.encode("unicode_escape").decode("ascii")
    elif isinstance(value, int) and not isinstance(value, bool) and not quote:
        text = str(value)
    else:
        text = _safe_repr(value, limit)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _safe_repr(value: Any, limit: int) -> str:
    """``repr`` that neither builds megabytes of text nor fails on an int of 5000 digits."""
    if isinstance(value, (dict, list, tuple, set)) and len(value) > limit:
        return f"<{type(value).__name__} of {len(value)} items>"
    try:
        return repr(value)
    except (ValueError, RecursionError):
        return f"<{type(value).__name__}>"


def one_line(message: str, limit: int = MAX_MESSAGE) -> str:
    """A message on one line (control characters escaped), cut when absurdly long."""
    if not message.isprintable():
        message = "".join(
            c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in message
        )
    return message if len(message) <= limit else message[: limit - 3] + "..."
