"""The built-in plugins. In the repository they live in the top-level ``methods/`` and
``datasets/`` folders; the wheel ships them here, as ``bench.builtin.methods`` and
``bench.builtin.datasets``, so that nothing is installed under a generic top-level name."""
