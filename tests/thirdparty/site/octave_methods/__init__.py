"""A third-party method package, written as a user would against the documented plugin API
(``bench`` and ``bench.kit``) and found through its ``bench.methods`` entry point."""
