"""The contract floor: what a method, a task, a run's record and the stop rule are, and the
registry plugins register in. Nothing here imports anything else of ``bench``."""

__version__ = "0.4.0"
