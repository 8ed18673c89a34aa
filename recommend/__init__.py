"""Recommendations (SPEC §7): product pairings and ranked sales scripts."""
