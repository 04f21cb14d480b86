"""Learning-rate schedules that rewrite each param group's "lr" once per epoch."""
from __future__ import annotations

from typing import Any

from .optimizer import Optimizer


class LRScheduler:
    """Base: remembers each group's initial lr; `step()` advances one epoch and sets the new lrs."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()  # epoch 0: sets the starting lrs, as torch does

    def get_lr(self) -> list[float]:
        """The lrs for epoch `last_epoch` (subclasses define it)."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch; call after the epoch's optimizer steps."""
        self.last_epoch += 1
        for g, lr in zip(self.optimizer.param_groups, self.get_lr()):
            g["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The lrs set by the latest step()."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Numbers only: everything but the optimizer."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict() returned."""
        self.__dict__.update({k: v for k, v in state.items() if k != "optimizer"})


class StepLR(LRScheduler):
    """lr = initial_lr · gamma^(epoch // step_size): multiply by gamma every step_size epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        if int(step_size) != step_size or step_size < 1:
            raise ValueError(f"StepLR step_size must be a positive int, got {step_size}")
        self.step_size, self.gamma = int(step_size), gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Multiply the current lr by gamma at multiples of step_size (recursive, like torch)."""
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        if self.last_epoch == 0 or self.last_epoch % self.step_size:
            return lrs
        return [lr * self.gamma for lr in lrs]
