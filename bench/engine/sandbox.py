"""Runs in a child process of their own, so that no run can take the sweep down with it.

A :class:`Sandbox` is one long-lived child interpreter (``python -m bench.engine.sandbox``) that
executes units of work one after another: it imports torch and the plugins once, like a pool
worker, and answers each unit with its records. The parent waits for the answer with a clock
running, so that

* a run past ``timeout`` seconds (per seed of the unit) is stopped with SIGKILL and recorded
  as ``timeout``, even when it is stuck in native code where no Python check can reach it;
* so is a run still going at :data:`BUDGET_GRACE` times its unit's time budget plus
  :data:`BUDGET_SLACK_S` seconds (the child tells the parent the budget as the fit begins):
  a method that never logs cannot hang a sweep without ``--timeout`` either;
* the child runs in a session (and process group) of its own, and is stopped by killing that
  whole group: processes a method started (``prophet``'s cmdstan) end with it;
* a run that kills its interpreter (a segmentation fault, ``os._exit``, the kernel's OOM
  killer) is retried once in a fresh child and, if it dies again, recorded as ``error`` with
  the signal or exit code;
* with ``memory_mb``, a run may allocate at most that much beyond the loaded interpreter (an
  address-space limit, set around each run): exceeding it raises ``MemoryError`` inside the
  run, which is recorded as ``oom``.

The wire format is JSON lines on a pipe of its own: the unit's fields out; back, the unit's
time budget as its fit starts (``{"budget"}``), then ``{"records", "seconds"}``. A plugin
printing to stdout cannot corrupt it (the child's stdout goes to its stderr), and a value JSON
cannot carry (a function given as a hyper-parameter) is sent in a readable form
(``bench.engine.execute.readable``), never a reason for the child to fail. The child ignores
SIGINT (the parent decides when it stops) and exits, with its whole process group, when its
stdin closes or its parent disappears, so a SIGKILLed sweep leaves nothing behind.

One sandbox per thread is kept and reused (:func:`shared`) while the environment that shapes a
run (``BENCH_*``, thread and device variables) stays the same; a changed environment starts a
fresh child. The serial sweep has one; a local dask cluster's workers are threads of the
sweep's own process, one sandbox each. :func:`close_shared` stops them all.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time

from bench.engine.execute import readable, unit_records
from bench.engine.plan import Unit, unit_from_json, unit_to_json

#: Environment variables a child reads once at start: a change means a fresh child.
_ENV_PREFIXES = ("BENCH_", "OMP_", "MKL_", "CUDA_", "PYTHONPATH")

#: How a dead child is described, by the signal that killed it.
_SIGNAL_NAMES = {
    signal.SIGSEGV: "SIGSEGV (segmentation fault)",
    signal.SIGKILL: "SIGKILL (out of memory, or killed from outside)",
    signal.SIGABRT: "SIGABRT (aborted)",
    signal.SIGBUS: "SIGBUS (bus error)",
    signal.SIGFPE: "SIGFPE (arithmetic fault)",
}


#: A run still going at this many times its unit's time budget (``budget.seconds`` x seeds),
#: plus :data:`BUDGET_SLACK_S` for building and scoring, is stopped as ``timeout`` (or at
#: ``--timeout``, if that comes first). The harness itself records a run over its budget as
#: ``timeout`` when it ends (``bench.engine.execute``); this stops one that would never end.
BUDGET_GRACE = 2.0
BUDGET_SLACK_S = 5.0

#: What a sandbox returns for one unit: its records, or why there are none; and its seconds.
Outcome = tuple[list[dict] | None, tuple[str, str] | None, float]


def as_records(spec: Unit, outcome: Outcome) -> tuple[list[dict], float]:
    """The records of an outcome: the child's, or records built from the spec with the
    status and reason of what stopped it."""
    records, failed, secs = outcome
    if records is None:
        assert failed is not None
        records = unit_records(spec, *failed, seconds=secs)
    return records, secs


class ChildDied(RuntimeError):
    """The child interpreter ended before it answered."""


class Overdue(RuntimeError):
    """The child ran past a limit: ``--timeout`` (``budget`` None) or its unit's time budget
    by :data:`BUDGET_GRACE` (``budget``: the unit's budget in seconds)."""

    def __init__(self, budget: float | None) -> None:
        super().__init__("overdue")
        self.budget = budget


def _env_key(extra: dict[str, str | None] | None = None) -> tuple[tuple[str, str], ...]:
    env = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return tuple(sorted(env.items()))


class Sandbox:
    """One child interpreter that runs units of work on request (see the module's notes)."""

    def __init__(
        self, memory_mb: float | None = None, env: dict[str, str | None] | None = None
    ) -> None:
        self.memory_mb = memory_mb
        self.extra_env = dict(env or {})
        self.key = (_env_key(self.extra_env), memory_mb)
        self._proc: subprocess.Popen[bytes] | None = None
        self._buf = b""
        self._sent: float | None = None  # when the unit in flight was sent (monotonic)

    # -- the child's life -------------------------------------------------------------------
    def _start(self) -> subprocess.Popen[bytes]:
        if _stopping.is_set():
            raise ChildDied("not started: the sweep is stopping")
        cmd = [sys.executable, "-m", "bench.engine.sandbox"]
        if self.memory_mb is not None:
            cmd += ["--memory-mb", str(self.memory_mb)]
        env = {**os.environ, **self.extra_env}  # None: leave the variable out
        env = {k: v for k, v in env.items() if v is not None}
        # The child must import this very package, also when it was loaded from a source tree
        # (an installed one is found by the same interpreter anyway).
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        if os.path.basename(root) not in ("site-packages", "dist-packages"):
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        # A session of its own: the child leads a process group that holds whatever its runs
        # start, and close() kills the group. (A terminal's Ctrl-C no longer reaches it
        # directly, which is as before: it ignores SIGINT and the parent stops it.)
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True,
            start_new_session=True,
        )  # fmt: skip
        self._buf = b""
        self._read_line(self._proc, None)  # "ready": imports are not charged to the first run
        return self._proc

    def close(self) -> None:
        """Stop the child and every process of its group (at once: SIGKILL)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:  # also when the child is gone: what its runs started may still be there
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        for f in (proc.stdin, proc.stdout):
            if f is not None:
                f.close()

    # -- one unit ---------------------------------------------------------------------------
    def run(self, spec: Unit, timeout: float | None = None) -> tuple[list[dict], float]:
        """Records of ``spec`` and the seconds it took; never raises for what the run did."""
        return as_records(spec, self.attempt(spec, timeout))

    def attempt(self, spec: Unit, timeout: float | None = None) -> Outcome:
        """``(records, None, seconds)`` from the child, or ``(None, (status, reason),
        seconds)`` when it could not answer: the records are then built by :func:`as_records`
        where the registry is loaded (a dask worker's own process need not load it). The
        seconds are then the wall time the unit ran here, both tries of a crash included."""
        n = len(spec.seeds)
        limit = None if timeout is None else timeout * max(1, n)
        why, used = "", 0.0
        for attempt in (1, 2):  # a child that dies gets one retry in a fresh child
            try:
                records, secs = self._ask(spec, limit)
                return records, None, secs
            except Overdue as exc:
                used += self._elapsed()
                self.close()
                return None, ("timeout", _overdue_reason(exc.budget, timeout, n, used)), used
            except ChildDied as exc:
                used += self._elapsed()
                self.close()
                why = str(exc)
                if _stopping.is_set():
                    return None, ("error", f"{why}: the sweep was stopped"), used
                if attempt == 1:
                    print(f"warning: {spec.label}: {why}; retrying once", file=sys.stderr)
        return None, ("error", f"{why} (twice)"), used

    def _elapsed(self) -> float:
        """Seconds since the unit in flight was sent (0 if none was)."""
        sent, self._sent = self._sent, None
        return 0.0 if sent is None else time.monotonic() - sent

    def _ask(self, spec: Unit, limit: float | None) -> tuple[list[dict], float]:
        proc = self._proc if self._proc is not None and self._proc.poll() is None else None
        proc = proc or self._start()
        assert proc.stdin is not None and proc.stdout is not None
        line = json.dumps(unit_to_json(spec))
        self._sent = time.monotonic()
        try:
            proc.stdin.write(line.encode() + b"\n")
            proc.stdin.flush()
        except BrokenPipeError:
            raise ChildDied(self._death(proc)) from None
        hard = None if limit is None else self._sent + limit
        stop, budget = hard, None
        while True:
            try:
                answer = json.loads(self._read_line(proc, stop))
            except TimeoutError:
                raise Overdue(budget) from None
            if "budget" not in answer:
                self._sent = None
                return answer["records"], answer["seconds"]
            # Each group of a fleet tells its own budget as its fit starts: the backstop
            # follows the latest one; --timeout stays a limit on the whole unit.
            backstop = time.monotonic() + answer["budget"] * BUDGET_GRACE + BUDGET_SLACK_S
            if hard is None or backstop < hard:
                stop, budget = backstop, float(answer["budget"])
            else:
                stop, budget = hard, None

    def _read_line(self, proc: subprocess.Popen[bytes], deadline: float | None) -> bytes:
        """The child's next answer line, waiting at most until ``deadline`` (monotonic)."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while b"\n" not in self._buf:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:  # EOF: the child is gone, whatever it wrote last is torn
                raise ChildDied(self._death(proc))
            self._buf += chunk
        answer, _, self._buf = self._buf.partition(b"\n")
        return answer

    @staticmethod
    def _death(proc: subprocess.Popen[bytes]) -> str:
        code = proc.wait()
        if code < 0:
            sig = -code
            name = _SIGNAL_NAMES.get(sig) or signal.Signals(sig).name
            return f"worker process killed by {name}"
        return f"worker process exited with code {code}"


def _overdue_reason(budget: float | None, timeout: float | None, n: int, used: float) -> str:
    """Why a unit was stopped: at ``--timeout``, or far past its time budget."""
    if budget is None:
        return f"stopped at --timeout {timeout:g} s per seed ({n} seed(s) in the unit)"
    return (
        f"time budget exceeded: stopped after {used:.1f} s, still running at "
        f"{BUDGET_GRACE:g} x the unit's {budget:g} s budget + {BUDGET_SLACK_S:g} s "
        f"({n} seed(s))"
    )


#: One sandbox per thread that runs units (the serial sweep's, each worker thread of a local
#: dask cluster), and every one of them, to stop them all at once.
_local = threading.local()
_all: set[Sandbox] = set()
_all_lock = threading.Lock()
#: Set by :func:`close_shared`: a sweep is stopping, so no sandbox starts a child any more
#: (a worker thread whose child was just killed must not start a fresh one and retry).
_stopping = threading.Event()


def shared(memory_mb: float | None = None, env: dict[str, str | None] | None = None) -> Sandbox:
    """This thread's sandbox, fresh if the environment or the memory limit changed."""
    box = Sandbox(memory_mb, env)
    old: Sandbox | None = getattr(_local, "box", None)
    if old is not None and old.key == box.key:
        with _all_lock:
            _all.add(old)  # again, if close_shared stopped it: its next child must be found
        return old
    with _all_lock:
        if old is not None:
            old.close()
            _all.discard(old)
        _all.add(box)
    _local.box = box
    return box


def close_shared() -> None:
    """Stop every sandbox child of this process (Ctrl-C, the end of a sweep, exit); a run
    in flight in one of them ends as if its child had died, without a retry."""
    _stopping.set()
    with _all_lock:
        boxes = list(_all)
        _all.clear()
    for box in boxes:
        box.close()


def reopen_shared() -> None:
    """Let sandboxes start children again (a sweep begins; see :func:`close_shared`)."""
    _stopping.clear()


atexit.register(close_shared)


# -- the child's side ---------------------------------------------------------------------------
def _watch_parent(parent: int) -> None:
    """Exit when the parent is gone (it was SIGKILLed: nobody will read the answer), with
    every process of this child's group (what its runs started)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            if os.getpgrp() == os.getpid():  # the leader of a group of its own
                os.killpg(0, signal.SIGKILL)
            os._exit(0)


def _limit_memory(extra_mb: float | None) -> None:
    """Allow ``extra_mb`` of address space beyond what the interpreter holds now."""
    import resource

    if extra_mb is None:
        return
    with open("/proc/self/statm") as f:  # Linux; elsewhere the limit is on the whole process
        pages = int(f.read().split()[0])
    base = pages * os.sysconf("SC_PAGE_SIZE") if pages else 0
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    soft = base + int(extra_mb * 2**20)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _unlimit_memory() -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def serve(memory_mb: float | None = None) -> None:
    """The child's loop: read a unit, run it, answer with its records; stop at EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a plugin prints goes to stderr, never into the answers
    sys.stdout = sys.stderr
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()

    from bench.core import registry
    from bench.engine.execute import execute

    registry.load_plugins()  # torch and the plugins load once, before the first clock starts
    answer.write(b"ready\n")
    answer.flush()

    def send(message: dict) -> None:
        answer.write(json.dumps(message, default=readable).encode() + b"\n")
        answer.flush()

    for line in sys.stdin.buffer:
        fields = json.loads(line)
        spec = unit_from_json(fields)
        t0 = time.perf_counter()
        try:
            _limit_memory(memory_mb)
            records = execute(spec, on_budget=lambda seconds: send({"budget": seconds}))
        finally:
            _unlimit_memory()
        send({"records": records, "seconds": time.perf_counter() - t0})


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description="periodic-bench run sandbox (started by the harness)")
    p.add_argument("--memory-mb", type=float, default=None)
    serve(p.parse_args().memory_mb)
