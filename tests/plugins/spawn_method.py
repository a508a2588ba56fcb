"""A method that starts a process of its own and then hangs, for the process-group tests
(loaded via BENCH_PLUGIN_PATH).

``test-spawn`` starts ``sleep 1000`` (as ``prophet`` starts cmdstan), writes that process's id
to the file named in ``SPAWN_PIDFILE``, and sleeps an hour.
"""

import os
import subprocess
import time

import numpy as np

from bench import Method, register_method


@register_method("test-spawn")
class Spawn(Method):
    """Starts ``sleep 1000`` and hangs (see the module's notes)."""

    description = "test plugin: starts a process, then hangs"
    handles_fixed_data = True

    def fit(self, task, budget, seed, device, log):
        task.data(4) if task.infinite else task.data()
        child = subprocess.Popen(["sleep", "1000"])
        path = os.environ["SPAWN_PIDFILE"]
        with open(path + ".tmp", "w") as f:
            f.write(str(child.pid))
        os.replace(path + ".tmp", path)
        time.sleep(3600)
        return self

    def predict(self, x):
        return np.zeros(len(x))
