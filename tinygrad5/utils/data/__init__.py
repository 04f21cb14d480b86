"""tinygrad5.utils.data, shaped like torch.utils.data: datasets, samplers, collate and DataLoader.

`from tinygrad5.utils.data import DataLoader, TensorDataset, Dataset` works as torch's does (shuffle
defaults to False). The array loader `tinygrad5.data.DataLoader(x, y, batch_size=...)` is separate
and unchanged.
"""
from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .distributed import DistributedSampler
from .handwriting import EMNIST, MNIST  # noqa: F401  (torchvision-shaped datasets of real handwriting)
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                      WeightedRandomSampler)

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler", "IterableDataset",
           "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset",
           "WeightedRandomSampler", "default_collate", "default_convert", "random_split"]
