"""A method that kills its own worker process on chosen tasks (loaded via BENCH_PLUGIN_PATH)."""

import os
import signal
import time

import numpy as np

from bench import Method, register_method


@register_method("test-crash")
class Crash(Method):
    """SIGKILLs its process when the task's domain reaches the CRASH_ON_HALF_WIDTH environment
    variable (e.g. 1000 for sin31, whose inputs span [-1000, 1000]); otherwise predicts zeros.

    The trigger is a property of the task a test can state, not of the seed the runner derives,
    so a test knows which run dies without repeating the runner's seed arithmetic.
    """

    description = "test plugin: kills its worker process on tasks with a chosen domain"
    handles_fixed_data = True

    def __init__(self, pause: float = 0.2):
        self.pause = pause

    def fit(self, task, budget, seed, device, log):
        task.data(4) if task.infinite else task.data()
        time.sleep(self.pause)
        reach = os.environ.get("CRASH_ON_HALF_WIDTH")
        if reach is not None and max(abs(v) for v in task.domain) >= float(reach):
            os.kill(os.getpid(), signal.SIGKILL)
        log(1, 1.0)
        return self

    def predict(self, x):
        return np.zeros(len(x))
