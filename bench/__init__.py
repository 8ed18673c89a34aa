"""Benchmarks (SPEC §10): each prints one JSON line per result."""
