"""Offline sync protocol v1 (SPEC §5): push/pull, mutation handlers, cursor, conflict rules."""
