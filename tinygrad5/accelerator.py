"""`tinygrad5.accelerator`: torch's device-agnostic queries, answering that there is no accelerator."""
from __future__ import annotations


def is_available() -> bool:
    """False: tinygrad5 computes on the CPU."""
    return False


def current_accelerator(check_available: bool = False) -> None:
    """None: no accelerator (torch returns None too when there is none)."""
    return None


def device_count() -> int:
    """0 accelerators."""
    return 0
