"""A method that fails in a chosen way, for the fault tests (loaded via BENCH_PLUGIN_PATH).

``test-fault[mode=...]``: ``raise`` raises, ``nan-output`` predicts NaN, ``sleep`` hangs in native
code (``time.sleep``) far past any timeout, ``exit`` ends its interpreter with ``os._exit(3)``,
``alloc`` allocates without bound, ``segfault`` reads address 0, and ``kill-parent`` SIGKILLs
the process that started its sandbox (a dask worker process of a cluster started apart) the
first time it runs: the first time is marked by creating the file named in ``FAULT_MARKER``.
``none`` (the default) predicts zeros.
"""

import ctypes
import os
import signal
import time

import numpy as np

from bench import Method, register_method


@register_method("test-fault")
class Fault(Method):
    """Fails in the way ``mode`` names, after drawing its data like any method."""

    description = "test plugin: fails in a chosen way"
    handles_fixed_data = True

    def __init__(self, mode: str = "none") -> None:
        self.mode = mode

    def fit(self, task, budget, seed, device, log):
        task.data(4) if task.infinite else task.data()
        if self.mode == "raise":
            raise ValueError("injected failure")
        if self.mode == "sleep":
            time.sleep(3600)
        if self.mode == "exit":
            os._exit(3)
        if self.mode == "alloc":
            hog = []
            while True:
                hog.append(bytearray(64 << 20))
        if self.mode == "segfault":
            ctypes.string_at(0)
        if self.mode == "kill-parent":
            marker = os.environ["FAULT_MARKER"]
            if not os.path.exists(marker):
                open(marker, "w").close()
                os.kill(os.getppid(), signal.SIGKILL)
                time.sleep(60)  # the sandbox goes when its parent has gone
        log(1, 1.0)
        return self

    def predict(self, x):
        if self.mode == "nan-output":
            return np.full(len(x), np.nan)
        return np.zeros(len(x))
