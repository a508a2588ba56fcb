"""Reports from records: summaries, tables, renderers, plots and publishing."""

from .build import *  # noqa: F403  (temporary during the split)
from .build import FORMATS, MIXED, README_END, README_START  # noqa: F401
