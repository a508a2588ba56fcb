"""The built-in methods, one module per family (installed as ``bench.builtin.methods``)."""
