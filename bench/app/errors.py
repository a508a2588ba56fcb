"""The errors a caller of the application layer can act on.

Everything that is wrong with what was asked (an unknown name, a bad value, a folder that cannot
be read or written, or that another process is writing to) is a :class:`UsageError` with a
one-line message that names the command, so that the command line prints it as it is and exits
2, and a script catches one type (or :data:`USER_ERRORS`, with the lower layers' own).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.core.registry import RegistryError
from bench.engine.lock import LockError
from bench.engine.store import CorruptRecords


class UsageError(Exception):
    """A problem with what the user asked for: one line, exit 2.

    ``problems`` are the unreadable record lines met on the way (``bench.engine.store.BadLine``),
    which a caller shows as warnings before the message: they are often why nothing was found.
    """

    def __init__(self, message: str, problems: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a batch system's time limit): stop as on Ctrl-C, workers
    included, and exit 143."""


#: The errors that mean "the request was wrong", not "the program is": the command line answers
#: each with one line and exit code 2.
USER_ERRORS: tuple[type[Exception], ...] = (UsageError, RegistryError, CorruptRecords, LockError)

#: ``--fail-on``: the statuses of a sweep's new records that make ``run`` fail (exit code 1).
#: ``error`` (the default) is a run that crashed or could not be set up; ``diverged``,
#: ``timeout`` and ``oom`` are a method's own limits, which ``any`` counts too; ``skipped`` (a
#: method declining a task) and an unsuccessful ``ok`` never fail a run.
FAIL_ON: dict[str, tuple[str, ...]] = {
    "error": ("error",),
    "any": ("error", "diverged", "timeout", "oom"),
    "never": (),
}
DEFAULT_FAIL_ON = "error"
