"""Utilities shaped like torch.utils: `tinygrad5.utils.data` (Dataset, DataLoader, samplers, collate)."""
from . import data

__all__ = ["data"]
