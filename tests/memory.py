"""The flat-memory check the engine, optimizer and data-loader tests share."""
from __future__ import annotations

import tracemalloc
from typing import Callable


def assert_memory_flat(run: Callable[[int], None], n: int, slack: int = 4096) -> None:
    """After a warm-up, two equal blocks of `run(n)` must end with the same traced memory and peak.

    A leak of even a few bytes per step (a graph kept alive, optimizer state growing) shows up as
    growth between the blocks; `slack` bytes absorb allocator noise.
    """
    run(max(1, n // 20))  # warm-up: optimizer state, scratch buffers and caches exist from here on
    tracemalloc.start()
    try:
        run(n)
        cur1, peak1 = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        run(n)
        cur2, peak2 = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert cur2 - cur1 < slack, f"traced memory grew by {cur2 - cur1} bytes over {n} steps"
    assert peak2 <= peak1 + slack, f"peak grew from {peak1} to {peak2} bytes"
