"""Module (parameter and submodule registration, state_dict, train/eval, repr), Parameter, Sequential.

Registration works like PyTorch's: assigning a `Parameter` or a `Module` to an attribute records it
under that name, in assignment order, and `named_parameters()` walks the tree with dotted names
("0.weight", "fc1.bias"). The value is also kept in the instance `__dict__` so that `self.weight`
in `forward` is a plain attribute lookup (this runs every batch).
"""
from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Any, Iterator, Mapping, NamedTuple

import numpy as np

from ..tensor import Tensor, copy_as


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable; requires_grad=True by default, shares `data`."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What load_state_dict(strict=False) skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer and model: subclasses set parameters/submodules in __init__ and
    implement `forward`."""

    training: bool
    # A module may define forward_then(x, following) -> (Tensor, k) | None: itself and the first k
    # modules after it in a Sequential as one op when it can (nn.Linear and a Sigmoid or ReLU;
    # nn.Conv2d, ReLU and MaxPool2d(2); nn.ReLU and MaxPool2d), else None.
    forward_then: Any = None

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration ----------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() ran: call "
                                 f"super().__init__() first in {type(self).__name__}.__init__")
        params, mods = d["_parameters"], d["_modules"]
        if isinstance(value, Parameter):
            mods.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            mods[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to parameter {name!r} of "
                                f"{type(self).__name__} (Parameter or None expected)")
            params[name] = None
        elif name in mods:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to submodule {name!r} of "
                                f"{type(self).__name__} (Module or None expected)")
            mods[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self.__dict__["_parameters"].pop(name, None)
        self.__dict__["_modules"].pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register a Parameter (or None, e.g. a disabled bias) under `name`."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}) needs a Parameter or None, got {type(param).__name__}")
        self.__dict__["_parameters"][name] = param
        object.__setattr__(self, name, param)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a submodule under `name` (any string without a dot)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}) needs a Module, got {type(module).__name__}")
        if "." in name or not name:
            raise KeyError(f"module name {name!r} must be non-empty and contain no '.'")
        self.__dict__["_modules"][name] = module
        object.__setattr__(self, name, module)

    # ---- the call --------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- traversal -------------------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module and every descendant, each module once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:  # depth-first, children in registration order
            name, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            kids = [(f"{name}.{k}" if name else k, m) for k, m in mod._modules.items() if m is not None]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        """This module and every descendant."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) of the direct submodules."""
        for k, m in self._modules.items():
            if m is not None:
                yield k, m

    def children(self) -> Iterator[Module]:
        """The direct submodules."""
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) in registration order; a parameter shared by two modules appears once."""
        seen: set[int] = set()
        mods = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mname, mod in mods:
            for k, p in mod._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{k}" if mname else k), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter, in the order of named_parameters()."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    # ---- modes and grads -------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set the `training` flag on this module and all descendants (Dropout reads it)."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """train(False)."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Drop every parameter's gradient (set it to None)."""
        for p in self.parameters():
            p.grad = None

    def to(self, dtype: Any) -> Module:
        """Cast every float parameter to `dtype` in place (e.g. "float64" for gradient checks)."""
        dt = np.dtype(dtype)
        for p in self.parameters():
            if p.data.dtype.kind == "f" and p.data.dtype != dt:
                p.data, p.grad = p.data.astype(dt), None
        return self

    # ---- state -----------------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """name -> a copy of each parameter's array, in named_parameters() order."""
        return OrderedDict((k, p.data.copy()) for k, p in self.named_parameters())

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters (cast to each parameter's dtype).

        Wrong shapes always raise; missing or unexpected keys raise when strict, else are returned.
        """
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict into {type(self).__name__}: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        new = {}
        for k, p in own.items():
            if k not in state:
                continue
            v = state[k]
            arr = np.asarray(v.data if isinstance(v, Tensor) else v)
            if arr.shape != p.data.shape:
                raise ValueError(f"load_state_dict: key {k!r} has shape {arr.shape} in the state dict "
                                 f"but the parameter has shape {p.data.shape}")
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"load_state_dict: key {k!r} holds dtype {arr.dtype}, not numbers")
            new[k] = arr
        for k, arr in new.items():  # only after every check passed: no half-loaded model
            own[k].data = copy_as(arr, own[k].data)  # keeps the memory order (see nn.Linear)
        return IncompatibleKeys(missing, unexpected)

    # ---- printing --------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr line."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for k, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({k}): {body}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n" + "\n".join(lines) + "\n)" if lines else ")")


class Sequential(Module):
    """Modules applied in order; indexable (`seq[0]`, `seq[1:]`), with len()."""

    def __init__(self, *modules: Module | Mapping[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            for name, m in modules[0].items():
                self.add_module(str(name), m)
        else:
            for i, m in enumerate(modules):
                if not isinstance(m, Module):
                    raise TypeError(f"Sequential item {i} is a {type(m).__name__}, not a Module")
                self.add_module(str(i), m)

    def forward(self, x: Any) -> Any:
        """Feed x through each module in turn; a module and the next run as one op where the first
        can fuse them (see Module.forward_then): same values, one graph node and one array fewer."""
        mods = list(self._modules.values())
        i, n = 0, len(mods)
        while i < n:
            m = mods[i]
            if m.forward_then is not None and i + 1 < n:
                fused = m.forward_then(x, mods[i + 1:])
                if fused is not None:
                    x, i = fused[0], i + 1 + fused[1]
                    continue
            x = m(x)
            i += 1
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx: int | slice) -> Module:
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        if not -len(items) <= idx < len(items):
            raise IndexError(f"index {idx} is out of range for a Sequential of length {len(items)}")
        return items[idx][1]

    def append(self, module: Module) -> Sequential:
        """Add a module at the end."""
        self.add_module(str(len(self)), module)
        return self


@contextlib.contextmanager
def _swapped(module: Module, params: Mapping[str, Tensor]) -> Iterator[None]:
    """Temporarily replace parameters by dotted name with arbitrary Tensors."""
    owners = dict(module.named_modules())
    saved = []
    try:
        for name, t in params.items():
            mname, _, leaf = name.rpartition(".")
            owner = owners.get(mname)
            if owner is None or leaf not in owner._parameters:
                raise KeyError(f"functional_call: {type(module).__name__} has no parameter {name!r}")
            saved.append((owner, leaf, owner._parameters[leaf]))
            owner._parameters[leaf] = t
            object.__setattr__(owner, leaf, t)
        yield
    finally:
        for owner, leaf, old in reversed(saved):
            owner._parameters[leaf] = old
            object.__setattr__(owner, leaf, old)


def functional_call(module: Module, params: Mapping[str, Tensor], *args: Any, **kwargs: Any) -> Any:
    """Call `module(*args)` with some parameters replaced by the given Tensors (like torch.func).

    Gradients then flow to those Tensors, so `gradcheck` can check a whole module's parameters.
    """
    with _swapped(module, params):
        return module(*args, **kwargs)
