"""backend.runtime: a server process moves its start-up heap out of the collector's generations."""

import gc

from backend.runtime import freeze_startup_heap


def test_freezing_the_startup_heap_leaves_the_objects_alive_now_to_no_generation():
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    survivor = [object() for _ in range(100)]
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() >= len(survivor)
        assert sum(gc.get_count()) < 100  # the generations were emptied into the frozen set
    finally:
        gc.unfreeze()  # the test process keeps collecting as before
