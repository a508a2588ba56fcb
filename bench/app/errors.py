"""The errors a caller of the application layer can act on.

Everything that is wrong with what was asked (an unknown name, a bad value, a folder that cannot
be read or written) is a :class:`UsageError` with a one-line message that names the command, so
that the command line prints it as it is and exits 2, and a script catches one type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.core.registry import RegistryError
from bench.engine.store import CorruptRecords


class UsageError(Exception):
    """A problem with what the user asked for: one line, exit 2.

    ``problems`` are the unreadable record lines met on the way (``bench.engine.store.BadLine``),
    which a caller shows as warnings before the message: they are often why nothing was found.
    """

    def __init__(self, message: str, problems: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


#: The errors that mean "the request was wrong", not "the program is": the command line answers
#: each with one line and exit code 2.
USER_ERRORS: tuple[type[Exception], ...] = (UsageError, RegistryError, CorruptRecords)
