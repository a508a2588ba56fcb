"""Runs in a child process of their own, so that no run can take the sweep down with it.

A :class:`Sandbox` is one long-lived child interpreter (``python -m bench.engine.sandbox``) that
executes units of work one after another: it imports torch and the plugins once, like a pool
worker, and answers each unit with its records. The parent waits for the answer with a clock
running, so that

* a run past ``timeout`` seconds (per seed of the unit) is stopped with SIGKILL and recorded
  as ``timeout``, even when it is stuck in native code where no Python check can reach it;
* a run that kills its interpreter (a segmentation fault, ``os._exit``, the kernel's OOM
  killer) is retried once in a fresh child and, if it dies again, recorded as ``error`` with
  the signal or exit code;
* with ``memory_mb``, a run may allocate at most that much beyond the loaded interpreter (an
  address-space limit, set around each run): exceeding it raises ``MemoryError`` inside the
  run, which is recorded as ``oom``.

The wire format is one JSON line each way (the unit's fields out, ``{"records", "seconds"}``
back) on a pipe of its own: a plugin printing to stdout cannot corrupt it (the child's stdout
goes to its stderr). The child ignores SIGINT (the parent decides when it stops) and exits when
its stdin closes or its parent disappears, so a SIGKILLed sweep leaves no child behind.

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
from dataclasses import asdict

from bench.engine.execute import unit_records
from bench.engine.plan import RunSpec

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


#: What a sandbox returns for one unit: its records, or why there are none; and its seconds.
Outcome = tuple[list[dict] | None, tuple[str, str] | None, float]


def as_records(spec: RunSpec, outcome: Outcome) -> tuple[list[dict], float]:
    """The records of an outcome: the child's, or records built from the spec with the
    status and reason of what stopped it."""
    records, failed, secs = outcome
    if records is None:
        assert failed is not None
        records = unit_records(spec, *failed)
    return records, secs


class ChildDied(RuntimeError):
    """The child interpreter ended before it answered."""


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
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True
        )
        self._buf = b""
        self._read_line(self._proc, None)  # "ready": imports are not charged to the first run
        return self._proc

    def close(self) -> None:
        """Stop the child (at once: SIGKILL) if it is running."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            proc.wait()
            for f in (proc.stdin, proc.stdout):
                if f is not None:
                    f.close()

    # -- one unit ---------------------------------------------------------------------------
    def run(self, spec: RunSpec, timeout: float | None = None) -> tuple[list[dict], float]:
        """Records of ``spec`` and the seconds it took; never raises for what the run did."""
        return as_records(spec, self.attempt(spec, timeout))

    def attempt(self, spec: RunSpec, timeout: float | None = None) -> Outcome:
        """``(records, None, seconds)`` from the child, or ``(None, (status, reason),
        seconds)`` when it could not answer: the records are then built by :func:`as_records`
        where the registry is loaded (a dask worker's own process need not load it)."""
        limit = None if timeout is None else timeout * max(1, len(spec.seeds))
        why = ""
        for attempt in (1, 2):  # a child that dies gets one retry in a fresh child
            try:
                records, secs = self._ask(spec, limit)
                return records, None, secs
            except TimeoutError:
                self.close()
                n = len(spec.seeds)
                reason = f"stopped at --timeout {timeout:g} s per seed ({n} seed(s) in the unit)"
                return None, ("timeout", reason), float(limit or 0.0)
            except ChildDied as exc:
                self.close()
                why = str(exc)
                if _stopping.is_set():
                    return None, ("error", f"{why}: the sweep was stopped"), float("nan")
                if attempt == 1:
                    print(f"warning: {spec.label}: {why}; retrying once", file=sys.stderr)
        return None, ("error", f"{why} (twice)"), float("nan")

    def _ask(self, spec: RunSpec, limit: float | None) -> tuple[list[dict], float]:
        proc = self._proc if self._proc is not None and self._proc.poll() is None else None
        proc = proc or self._start()
        assert proc.stdin is not None and proc.stdout is not None
        line = json.dumps({**asdict(spec), "seeds": list(spec.seeds), "keys": list(spec.keys)})
        try:
            proc.stdin.write(line.encode() + b"\n")
            proc.stdin.flush()
        except BrokenPipeError:
            raise ChildDied(self._death(proc)) from None
        answer = json.loads(self._read_line(proc, limit))
        return answer["records"], answer["seconds"]

    def _read_line(self, proc: subprocess.Popen[bytes], limit: float | None) -> bytes:
        """The child's next answer line, waiting at most ``limit`` seconds."""
        assert proc.stdout is not None
        deadline = None if limit is None else time.monotonic() + limit
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
    """Exit when the parent is gone (it was SIGKILLed: nobody will read the answer)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
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

    for line in sys.stdin.buffer:
        fields = json.loads(line)
        spec = RunSpec(**{**fields, "seeds": tuple(fields["seeds"]), "keys": tuple(fields["keys"])})
        t0 = time.perf_counter()
        try:
            _limit_memory(memory_mb)
            records = execute(spec)
        finally:
            _unlimit_memory()
        out = json.dumps({"records": records, "seconds": time.perf_counter() - t0})
        answer.write(out.encode() + b"\n")
        answer.flush()


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description="periodic-bench run sandbox (started by the harness)")
    p.add_argument("--memory-mb", type=float, default=None)
    serve(p.parse_args().memory_mb)
