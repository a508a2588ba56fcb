"""The harness core: contracts, registry, runner and record store."""
