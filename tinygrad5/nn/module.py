"""Module (parameters, buffers and submodules, traversal, state_dict, train/eval, to(), repr), Parameter.

Registration works like PyTorch's: assigning a `Parameter` or a `Module` to an attribute records it
under that name, in assignment order, and `named_parameters()` walks the tree with dotted names
("0.weight", "fc1.bias"); `register_buffer` records state that is saved but not trained
(BatchNorm's running statistics). The value is also kept in the instance `__dict__` so that
`self.weight` in `forward` is a plain attribute lookup (this runs every batch).
"""
from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Any, Callable, Iterator, Mapping, NamedTuple

import numpy as np

from ..tensor import Tensor, copy_as
from ._convert import parse_to_args


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable; requires_grad=True by default, shares `data`."""

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, np.float32)
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        """A new Parameter holding a copy of the data (its layout kept) and requires_grad, as torch's: no grad
        and no hooks, so a copied model does not call a DDP wrapper's gradient hooks (or copy its MPI comm)."""
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.data.copy(order="K"), self.requires_grad)
        return memo[id(self)]


class IncompatibleKeys(NamedTuple):
    """What load_state_dict(strict=False) skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer and model: subclasses set parameters/submodules in __init__ and
    implement `forward`."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration ----------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() ran: call "
                                 f"super().__init__() first in {type(self).__name__}.__init__")
        params, mods, bufs = d["_parameters"], d["_modules"], d["_buffers"]
        if isinstance(value, Parameter):
            mods.pop(name, None)
            bufs.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            bufs.pop(name, None)
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
        elif name in bufs:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer {name!r} of "
                                f"{type(self).__name__} (Tensor or None expected)")
            bufs[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for table in ("_parameters", "_modules", "_buffers"):
            self.__dict__[table].pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register a Parameter (or None, e.g. a disabled bias) under `name`."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}) needs a Parameter or None, got {type(param).__name__}")
        self.__dict__["_parameters"][name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register state that is not trained (e.g. running statistics); persistent buffers are in state_dict."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer({name!r}) needs a Tensor or None, got {type(tensor).__name__}")
        if "." in name or not name:
            raise KeyError(f"buffer name {name!r} must be non-empty and contain no '.'")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: {name!r} is already a parameter or submodule of {type(self).__name__}")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a submodule under `name` (any string without a dot)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}) needs a Module, got {type(module).__name__}")
        if "." in name or not name:
            raise KeyError(f"module name {name!r} must be non-empty and contain no '.'")
        self.__dict__["_modules"][name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    # ---- the call --------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- traversal -------------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module and every descendant, depth first; each module once
        unless remove_duplicate=False."""
        seen: set[int] = set() if memo is None else {id(m) for m in memo}
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:  # depth-first, children in registration order
            name, mod = stack.pop()
            if remove_duplicate:
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
        seen: set[int] = set()
        for k, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield k, m

    def children(self) -> Iterator[Module]:
        """The direct submodules."""
        for _, m in self.named_children():
            yield m

    def _named_members(self, table: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix) if recurse else iter([(prefix, self)])
        for mname, mod in mods:
            for k, t in mod.__dict__[table].items():
                if t is None or (remove_duplicate and id(t) in seen):
                    continue
                seen.add(id(t))
                yield (f"{mname}.{k}" if mname else k), t

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) in registration order; a parameter shared by two modules appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter, in the order of named_parameters()."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) in registration order."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer, in the order of named_buffers()."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The submodule at a dotted path ("" is this module)."""
        mod: Module = self
        for part in target.split(".") if target else []:
            nxt = mod._modules.get(part)
            if nxt is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule {part!r} (path {target!r})")
            mod = nxt
        return mod

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call fn on every submodule (children first) and then on this module; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes and grads -------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set the `training` flag on this module and all descendants (Dropout, BatchNorm read it)."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """train(False)."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set requires_grad on every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (or fill it with zeros when set_to_none=False)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    # ---- device and dtype ------------------------------------------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> Module:
        """`to(device)`, `to(dtype)`, `to(device, dtype)` or `to(tensor)`, in place, returning self.

        The only device is the CPU ("cpu"; an accelerator raises naming the available devices);
        a dtype casts floating parameters and buffers and must be float32 or float64.
        """
        _, dtype = parse_to_args(type(self).__name__, args, kwargs)
        return self if dtype is None else self._cast(dtype)

    def cpu(self) -> Module:
        """This module (it already lives on the CPU)."""
        return self

    def cuda(self, device: Any = None) -> Module:
        """Always an error: tinygrad5 runs on the CPU only."""
        return self.to("cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))

    def float(self) -> Module:
        """Cast floating parameters and buffers to float32."""
        return self._cast(np.dtype(np.float32))

    def double(self) -> Module:
        """Cast floating parameters and buffers to float64."""
        return self._cast(np.dtype(np.float64))

    def half(self) -> Module:
        """Refused: there are no float16 kernels."""
        return self.to(np.float16)

    def _cast(self, dt: np.dtype) -> Module:
        for t in list(self.parameters()) + list(self.buffers()):
            if t.data.dtype.kind == "f" and t.data.dtype != dt:
                t.data = t.data.astype(dt)  # astype keeps the memory order: column-major stays so (nn.Linear)
                if t.grad is not None:
                    t.grad = Tensor._make(t.grad.data.astype(dt))
        return self

    # ---- state -----------------------------------------------------------------------------------
    def _state_items(self) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, tensor) of what state_dict holds: per module its parameters, then its
        persistent buffers, modules in named_modules() order (torch's order)."""
        seen: set[int] = set()
        for mname, mod in self.named_modules():
            items = list(mod._parameters.items()) + [
                (k, b) for k, b in mod._buffers.items() if k not in mod._non_persistent_buffers]
            for k, t in items:
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{mname}.{k}" if mname else k), t

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """name -> a copy of each parameter's and persistent buffer's array."""
        return OrderedDict((k, t.data.copy()) for k, t in self._state_items())

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters and buffers (cast to each one's dtype).

        Wrong shapes always raise; missing or unexpected keys raise when strict, else are returned.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict into {type(self).__name__} needs a mapping of names to arrays, "
                            f"got a {type(state).__name__}")
        own = dict(self._state_items())
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
