"""Numerical libraries shared by methods and tasks: DSP, sinusoid models, estimators, period
search, the shared training loop and metrics. Nothing here knows about the harness."""
