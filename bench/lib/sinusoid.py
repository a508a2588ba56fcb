"""Sums of sinusoids: the model, its least-squares fit and its two refinements.

The one place to import them from; they live in two modules of their own:

- ``bench.lib.tones``: :class:`SinusoidModel` is
  ``offset + trend + sum_k (a_k cos + b_k sin)(w_k (x - center))``, and :func:`fit_linear` the
  least-squares fit of its amplitudes and phases at given frequencies. :func:`cos_sin` is the
  trigonometry every fit spends its time in.
- ``bench.lib.refine``: :func:`refine_nls` then fits the frequencies too (Levenberg-Marquardt),
  which is the maximum-likelihood estimate under white Gaussian noise and so reaches the
  Cramer-Rao bound; it converges once started within about ``0.5 pi / L`` of the truth (``L``
  the span of x). :func:`fit_refine` is both steps in one. :func:`refine_gd` does the same job
  by plain gradient descent with a curvature-based (stable) step, for methods that are defined
  as "initialise, then descend".

All frequencies are angular (radians per unit of x). Models work in the coordinate
``u = (x - center) / scale`` with ``u`` in about [-1, 1]: centring decouples a tone's frequency
from its phase, and scaling keeps the Jacobian well conditioned even when x is in the
thousands (or billions).
"""

from __future__ import annotations

from bench.lib.refine import BLOCK as BLOCK
from bench.lib.refine import fit_refine, refine_gd, refine_nls
from bench.lib.tones import FloatArray as FloatArray
from bench.lib.tones import SinusoidModel, cos_sin, fit_linear

__all__ = ["SinusoidModel", "cos_sin", "fit_linear", "refine_gd", "fit_refine", "refine_nls"]
