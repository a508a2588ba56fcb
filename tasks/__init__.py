"""The built-in tasks, one module per family (installed as ``bench.builtin.tasks``)."""
