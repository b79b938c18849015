"""settle_heap: what start-up built leaves the collector's generations; the young threshold is set."""

from __future__ import annotations

import gc

from samaconso.kit.gc_tuning import settle_heap


def test_settle_heap_freezes_the_start_up_objects_and_sets_the_young_threshold() -> None:
    before = gc.get_threshold()
    built_at_start = [{"route": i} for i in range(1000)]  # stands for what start-up keeps alive
    try:
        frozen = settle_heap(50_000)
        assert frozen >= len(built_at_start)
        assert gc.get_freeze_count() == frozen
        assert gc.get_threshold() == (50_000, before[1], before[2])
        # a full collection no longer sees them: only what is allocated afterwards is tracked
        assert not any(o is built_at_start for o in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_settle_heap_without_a_threshold_keeps_the_default() -> None:
    before = gc.get_threshold()
    try:
        settle_heap(0)
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
