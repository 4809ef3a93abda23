"""Errors zoo reports to people.

A :class:`UserError` is a mistake in the user's input (a spec, a name, a path): the CLI
prints each of its problems on one line and exits with status 2, never with a traceback.
Anything else escaping the CLI is a bug in zoo or in a plugin.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One mistake, located as precisely as zoo can: ``file:line:col: key.path: message``."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    key_path: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
        parts = [p for p in (where, self.key_path) if p]
        return ": ".join([*parts, self.message])

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "key_path": self.key_path,
            "message": self.message,
        }


class ZooError(Exception):
    """Base class of every error zoo raises on purpose."""


class UserError(ZooError):
    """Bad input from the user; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems: list[Problem] = problems
        super().__init__("\n".join(str(p) for p in problems))


class UnknownPluginError(UserError, LookupError):
    """A name that no plugin registered (the message lists close matches)."""


class DuplicatePluginError(UserError):
    """Two plugins registered the same name; the message names both packages."""


class PluginContractError(ZooError):
    """A plugin broke the hook contract (bad name, params model, factory...)."""


class OfflineError(UserError):
    """A download was needed but the network is unreachable; says what to place where."""
