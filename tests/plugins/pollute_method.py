"""Methods that change the interpreter's global state, and one that reports it, for the
isolation tests (loaded via BENCH_PLUGIN_PATH, or by the tests themselves).

``test-pollute[what=...]`` changes one global setting in ``fit`` and leaves it changed:
``dtype`` (torch's default dtype to float64), ``threads`` (torch's threads), ``anomaly``
(torch's anomaly detection), ``grad`` (torch's grad mode off), ``rng`` (reseeds and draws from
Python's, numpy's and torch's global generators), ``errstate`` (numpy raises on every
floating-point error), ``warnings`` (every warning an error), ``env`` (sets, changes and
removes environment variables), ``cwd`` (the working directory). It predicts zeros.

``test-probe`` reports what it finds, as numbers among its run's metrics (``searched_``): the
settings above, and a draw from each global random generator. Two runs of it in one
interpreter report the same numbers unless a run in between left something changed.
"""

import os
import random
import warnings

import numpy as np
import torch

from bench import Method, register_method

#: What the probe finds in a clean interpreter is compared, not assumed: these variables are
#: the ones ``env`` touches.
ENV_SET, ENV_REMOVED = "TEST_POLLUTED", "TEST_POLLUTE_REMOVED"


@register_method("test-pollute")
class Pollute(Method):
    """Leaves one global setting changed (see the module's notes)."""

    description = "test plugin: changes a global setting and leaves it so"
    handles_fixed_data = True

    def __init__(self, what: str = "dtype") -> None:
        self.what = what

    def fit(self, task, budget, seed, device, log):
        task.data(4) if task.infinite else task.data()
        what = self.what
        if what == "dtype":
            torch.set_default_dtype(torch.float64)
        elif what == "threads":
            torch.set_num_threads(torch.get_num_threads() + 1)
        elif what == "anomaly":
            torch.autograd.set_detect_anomaly(True)
        elif what == "grad":
            torch.set_grad_enabled(False)
        elif what == "rng":
            random.seed(12345)
            np.random.seed(12345)
            torch.manual_seed(12345)
            random.random(), np.random.rand(), torch.rand(1)
        elif what == "errstate":
            np.seterr(all="raise")
        elif what == "warnings":
            warnings.simplefilter("error")
        elif what == "env":
            os.environ[ENV_SET] = "1"
            os.environ.pop(ENV_REMOVED, None)
            os.environ["OMP_NUM_THREADS"] = "7"
        elif what == "cwd":
            os.chdir(os.path.dirname(os.getcwd()) or "/")
        else:
            raise ValueError(f"unknown setting {what!r}")
        log(1, 1.0)
        return self

    def predict(self, x):
        return np.zeros(len(x))


@register_method("test-probe")
class Probe(Method):
    """Reports the global settings it finds (see the module's notes)."""

    description = "test plugin: reports the interpreter's global settings"
    handles_fixed_data = True

    def fit(self, task, budget, seed, device, log):
        task.data(4) if task.infinite else task.data()
        with warnings.catch_warnings(record=True) as caught:
            warnings.warn("probe", UserWarning, stacklevel=1)  # an error if filters say so
        self.searched_ = {
            "probe_float64": float(torch.get_default_dtype() == torch.float64),
            "probe_threads": float(torch.get_num_threads()),
            "probe_anomaly": float(torch.is_anomaly_enabled()),
            "probe_grad": float(torch.is_grad_enabled()),
            "probe_random": random.random(),
            "probe_np_random": float(np.random.rand()),
            "probe_torch_random": float(torch.rand(1)),
            "probe_np_raises": float(np.geterr()["divide"] == "raise"),
            "probe_warnings": float(len(caught)),
            "probe_env_set": float(ENV_SET in os.environ),
            "probe_env_removed": float(ENV_REMOVED in os.environ),
            "probe_omp": float(os.environ.get("OMP_NUM_THREADS", "0")),
            "probe_cwd": float(len(os.getcwd())),
        }
        log(1, 1.0)
        return self

    def predict(self, x):
        return np.zeros(len(x))
