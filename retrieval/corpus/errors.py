"""The one error the corpus stages raise for input a user can fix.

Retrieval never imports the bot; the CLI turns a ``CorpusError`` into its one-line user error.

Example:
    >>> str(CorpusError("notes/a.md:3: not UTF-8 text"))
    'notes/a.md:3: not UTF-8 text'
"""

from __future__ import annotations


class CorpusError(ValueError):
    """A corpus file or path cannot be used; the message names the file (and line) on one line."""
