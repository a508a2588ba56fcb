"""A method a user might publish: least squares on a grid of tones, refined by the kit's
sinusoid fit. It uses only the public plugin API."""

import numpy as np

from bench import Budget, Logger, TaskView, register_method
from bench.kit import SinusoidMethod, draw_samples
from bench.lib.estimators import estimate_tones


@register_method("octave-tone", variants=[{"n_samples": 2048}])
class OctaveTone(SinusoidMethod):
    """The strongest tone by the library's estimator, from a few thousand samples.
    Source: a test plugin; nothing to cite."""

    description = "third-party test plugin: the library's tone estimator on n_samples"
    handles_fixed_data = True

    def __init__(self, n_samples: int = 4096) -> None:
        self.n_samples = n_samples

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger):
        x, y = draw_samples(task, self.n_samples)
        with log.phase("estimate"):
            model = estimate_tones(np.asarray(x, float), np.asarray(y, float), max_tones=1)
        self.model_ = model.sorted()  # SinusoidMethod predicts from model_
        self.freqs_ = self.model_.freqs.copy()
        return self
