"""Errors that reach the user as one clear line, never as a traceback.

Example:
    >>> str(UserError("index/corpus/x.txt: file not found"))
    'index/corpus/x.txt: file not found'
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; the CLI prints it on one line and exits with ``exit_code``."""

    def __init__(self, message: str, *, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
