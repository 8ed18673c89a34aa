"""Execution analytics for supervisors and HQ (SPEC §8): SQL aggregates, scoped by policy."""
