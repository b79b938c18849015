"""The API process's garbage collector after start-up (issue 17, the tail of the hot reads).

Everything imported and wired at start-up (modules, the app, routes, pydantic validators, SQLAlchemy
mappers) lives as long as the process; left in the collector's generations, each full collection walks
it again. :func:`settle_heap` collects once, then moves what is left to the permanent generation
(``gc.freeze``), so later collections only walk what requests allocate.
"""

from __future__ import annotations

import gc


def settle_heap(gen0_threshold: int = 0) -> int:
    """Collect, freeze the survivors, optionally widen the young generation; returns the frozen count."""
    gc.collect()
    gc.freeze()
    if gen0_threshold > 0:
        _, second, third = gc.get_threshold()
        gc.set_threshold(gen0_threshold, second, third)
    return gc.get_freeze_count()
