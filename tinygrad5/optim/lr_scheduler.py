"""Learning-rate schedules that rewrite each param group's "lr" once per epoch, with torch's recursive
(step()) and closed (step(epoch)) forms: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR."""
from __future__ import annotations

import bisect
import math
from typing import Any, Iterable

from .optimizer import Optimizer


class LRScheduler:
    """Base: remembers each group's initial lr; `step()` advances one epoch and sets the new lrs."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for i, g in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                g.setdefault("initial_lr", g["lr"])
            elif "initial_lr" not in g:
                raise KeyError(f"{type(self).__name__}: last_epoch={last_epoch} resumes a schedule, but "
                               f"param_groups[{i}] has no 'initial_lr' (load the optimizer's state_dict first)")
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True  # torch's flag: a resumed schedule keeps its lrs on this first step
        try:
            self.step()  # epoch 0: sets the starting lrs, as torch does
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The lrs for epoch `last_epoch` (subclasses define it)."""
        raise NotImplementedError

    def _get_closed_form_lr(self) -> list[float]:
        """The lrs for epoch `last_epoch` straight from base_lrs (used by step(epoch))."""
        raise NotImplementedError

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch; call after the epoch's optimizer steps. step(epoch) jumps to `epoch`
        (torch's deprecated form): the closed-form lrs where the schedule has one."""
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
            lrs = self.get_lr()
        else:
            self.last_epoch = int(epoch)
            try:
                lrs = self._get_closed_form_lr()
            except NotImplementedError:
                lrs = self.get_lr()
        for g, lr in zip(self.optimizer.param_groups, lrs):
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

    def _get_closed_form_lr(self) -> list[float]:
        return [lr * self.gamma ** (self.last_epoch // self.step_size) for lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr = initial_lr · gamma^(number of milestones <= epoch); a milestone listed twice counts twice."""

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        ms = list(milestones)
        if any(int(m) != m for m in ms):
            raise ValueError(f"MultiStepLR milestones must be ints, got {ms}")
        self.milestones, self.gamma = sorted(int(m) for m in ms), gamma  # a sorted list saves as numbers
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Multiply the current lr by gamma once per milestone equal to this epoch (recursive, like torch)."""
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        hits = self.milestones.count(self.last_epoch)
        return [lr * self.gamma ** hits for lr in lrs] if hits else lrs

    def _get_closed_form_lr(self) -> list[float]:
        n = bisect.bisect_right(self.milestones, self.last_epoch)
        return [lr * self.gamma ** n for lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = initial_lr · gamma^epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Multiply the current lr by gamma (recursive, like torch; the constructor's step keeps it)."""
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        return lrs if self._is_initial else [lr * self.gamma for lr in lrs]

    def _get_closed_form_lr(self) -> list[float]:
        return [lr * self.gamma ** self.last_epoch for lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr − eta_min)·(1 + cos(π·epoch/T_max))/2, computed recursively from the
    current lr as torch does (so lrs changed by hand carry on), and rising again past T_max."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        if int(T_max) != T_max or T_max < 1:
            raise ValueError(f"CosineAnnealingLR T_max must be a positive int, got {T_max}")
        self.T_max, self.eta_min = int(T_max), eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """torch's recursive form: the ratio of consecutive cosine factors applied to (lr − eta_min)."""
        e, T, lo = self.last_epoch, self.T_max, self.eta_min
        groups = self.optimizer.param_groups
        if self._is_initial:  # a resumed schedule (last_epoch > -1) keeps the lrs it was given
            return [g["lr"] for g in groups]
        if (e - 1 - T) % (2 * T) == 0:  # at the curve's minimum the ratio is 0/0: step up from eta_min
            return [g["lr"] + (b - lo) * (1 - math.cos(math.pi / T)) / 2 for b, g in zip(self.base_lrs, groups)]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (g["lr"] - lo) + lo
                for g in groups]

    def _get_closed_form_lr(self) -> list[float]:
        e, T, lo = self.last_epoch, self.T_max, self.eta_min
        return [lo + (b - lo) * (1 + math.cos(math.pi * e / T)) / 2 for b in self.base_lrs]
