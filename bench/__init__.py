"""Benchmarks of registry_index against pypiserver and devpi: ``make bench`` (see docs/benchmarks.md)."""
