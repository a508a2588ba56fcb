"""A method that kills its own worker process on chosen seeds (loaded via BENCH_PLUGIN_PATH)."""

import os
import signal
import time

import numpy as np

from bench import Method, register_method


@register_method("test-crash")
class Crash(Method):
    """SIGKILLs its process when ``seed % 5`` equals the CRASH_ON environment variable."""

    description = "test plugin: kills its worker process on chosen seeds"

    def __init__(self, pause: float = 0.2):
        self.pause = pause

    def fit(self, task, budget, seed, device, log):  # noqa: ANN001, ANN201
        x, _ = task.sample(4)
        time.sleep(self.pause)
        if os.environ.get("CRASH_ON") == str(seed % 5):
            os.kill(os.getpid(), signal.SIGKILL)
        log(1, 1.0)
        return self

    def predict(self, x):  # noqa: ANN001, ANN201
        return np.zeros(len(x))
