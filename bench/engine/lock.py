"""One writer per records folder: an advisory lock on ``<out>/.lock``.

Two sweeps appending to one folder at once would run every unit they share twice and race on
``manifest.json``. A writer therefore holds the folder's lock for the whole sweep
(:func:`hold`): ``fcntl.flock`` on ``<out>/.lock``, a file that names the holder (its pid and
command) for the message the next writer gets. The holder removes the file when it lets go; the
kernel drops the lock when the process that holds it ends, however it ends (Ctrl-C, SIGKILL, a
crash), so a lock is never stale: the file may stay behind then, and the next writer simply
takes it. Within one process the lock is re-entrant, so that the application can take it
before its checks and the sweep take it again.

The lock is advisory: it keeps ``bench`` processes apart, not other programs. Where ``flock``
is not available (Windows, some network file systems) a warning says that the folder is not
locked and the sweep goes on.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

LOCK = ".lock"


class LockError(Exception):
    """The folder's lock cannot be taken (one line for the user)."""


class FolderBusy(LockError):
    """Another process is writing to the folder."""


#: Folders whose lock this process holds: resolved path -> [file descriptor, depth].
_held: dict[Path, list[int]] = {}
#: How often to try again when the lock file was replaced between opening and locking it.
_TRIES = 5
_guard = threading.Lock()


def acquire(folder: Path) -> None:
    """Take the lock of ``folder`` (which must exist), or raise :class:`FolderBusy` naming
    the process that holds it. Re-entrant within this process; each call needs a
    :func:`release`."""
    key = Path(folder).resolve()
    with _guard:
        if key in _held:
            _held[key][1] += 1
            return
        fd = _take(Path(folder))
        if fd is not None:
            _held[key] = [fd, 1]


def release(folder: Path) -> None:
    """Give back one :func:`acquire` of ``folder``'s lock; the last one unlocks it."""
    key = Path(folder).resolve()
    with _guard:
        entry = _held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del _held[key]
            with contextlib.suppress(OSError):  # still locked: no one else has it open locked
                (key / LOCK).unlink()
            os.close(entry[0])  # closing the descriptor drops the flock


@contextmanager
def hold(folder: Path) -> Iterator[None]:
    """The lock of ``folder`` for the duration of a ``with`` block."""
    acquire(folder)
    try:
        yield
    finally:
        release(folder)


def holds(folder: Path) -> bool:
    """Whether this process holds the lock of ``folder``."""
    with _guard:
        return Path(folder).resolve() in _held


def _take(folder: Path) -> int | None:
    """Open and lock ``<folder>/.lock``, write who holds it, return the descriptor (``None``
    where locking is not available)."""
    if fcntl is None:  # pragma: no cover - not POSIX
        print(f"warning: {folder} is not locked (no fcntl here)", file=sys.stderr)
        return None
    path = folder / LOCK
    for _ in range(_TRIES):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LockError(f"cannot open the lock file {path}: {exc.strerror or exc}") from exc
        if not _lock(fd, folder):
            return None
        if _is_current(fd, path):  # not removed by a holder letting go meanwhile
            command = os.environ.get("BENCH_COMMAND") or " ".join(sys.argv)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}: {command}\n".encode(), 0)
            return fd
        os.close(fd)
    raise LockError(f"cannot lock {path}: it keeps being replaced")


def _lock(fd: int, folder: Path) -> bool:
    """``flock`` the open lock file; ``False`` (with a warning) where the file system cannot;
    :class:`FolderBusy`, naming the holder, where another process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "unknown pid"
        os.close(fd)
        raise FolderBusy(
            f"{folder} is being written by another bench process ({holder[:160]}); one writer "
            f"per records folder: wait for it to finish, or choose another --out"
        ) from None
    except OSError as exc:  # e.g. ENOLCK on a network file system
        os.close(fd)
        print(f"warning: {folder} is not locked ({exc.strerror or exc})", file=sys.stderr)
        return False


def _is_current(fd: int, path: Path) -> bool:
    """Whether the locked descriptor is still the file at ``path``."""
    try:
        st, now = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino)
