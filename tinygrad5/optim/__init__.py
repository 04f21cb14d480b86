"""Optimizers shaped like torch.optim: SGD, Adam, and lr_scheduler.StepLR."""
from . import lr_scheduler
from .adam import Adam
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Adam", "Optimizer", "SGD", "lr_scheduler"]
