"""A deliberately slow method, for the kill-and-resume test (loaded via BENCH_PLUGIN_PATH)."""

import time

import numpy as np

from bench import Method, register_method


@register_method("test-slow")
class Slow(Method):
    """Sleeps, then predicts zeros: lets a test kill a sweep mid-way."""

    description = "test plugin: sleeps 0.4 s per fit"
    handles_fixed_data = True

    def __init__(self, pause: float = 0.4) -> None:
        self.pause = pause

    def fit(self, task, budget, seed, device, log):
        task.sample(8)
        time.sleep(self.pause)
        log(1, 1.0)
        return self

    def predict(self, x):
        return np.zeros(len(x))
