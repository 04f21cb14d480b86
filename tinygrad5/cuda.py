"""`tinygrad5.cuda`: there is no CUDA here; the queries answer so, as torch's do on a CPU-only build."""
from __future__ import annotations


def is_available() -> bool:
    """False: tinygrad5 computes on the CPU."""
    return False


def device_count() -> int:
    """0 CUDA devices."""
    return 0


def manual_seed(seed: int) -> None:
    """Nothing to seed without CUDA (torch ignores it then too); seed with tinygrad5.manual_seed."""


manual_seed_all = manual_seed
