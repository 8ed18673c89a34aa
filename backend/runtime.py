"""What a long-running server process does once, after it has started (wsgi.py)."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Move every object alive now (modules, mappers, the app, its caches) out of the cyclic
    garbage collector's generations. A full collection that happens while a request builds a large
    answer then walks only what requests allocated, not the whole start-up heap: such pauses were
    the tail of the 10,000-row analytics answers (docs/benchmarks.md, issue 17)."""
    gc.collect()
    gc.freeze()
