"""The global random generator behind init, dropout, shuffling and the random factories."""
from __future__ import annotations

import numpy as np

_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reseed the global generator so initialisation, dropout and shuffling repeat exactly."""
    global _rng
    _rng = np.random.default_rng(seed)


def get_rng() -> np.random.Generator:
    """The global generator (reseeded by manual_seed)."""
    return _rng
