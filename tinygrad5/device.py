"""Devices: tinygrad5 computes on the CPU only; `device("cuda")` can be named, but using it says so."""
from __future__ import annotations

from typing import Any

AVAILABLE = ("cpu",)
# the device types torch knows; naming one is fine (scripts build `device("cuda")` before checking),
# moving a tensor there is the error
KNOWN = ("cpu", "cuda", "mps", "xpu", "hip", "xla", "meta", "ipu", "hpu", "mtia", "vulkan", "privateuseone",
         "opengl", "opencl", "ideep", "mkldnn", "fpga", "ort", "ve", "lazy", "maia")


class device:  # noqa: N801 (torch's name)
    """A device name as in torch: `device("cpu")`, `device("cuda:0")`, `device("cuda", 0)`."""

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002 (torch's argument)
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device() needs a string such as 'cpu', got {type!r}")
        name, _, idx = type.partition(":")
        if name not in KNOWN:
            raise RuntimeError(f"unknown device type {name!r} in {type!r}; tinygrad5 runs on {AVAILABLE}")
        if idx:
            if index is not None or not idx.isdigit():
                raise RuntimeError(f"invalid device string {type!r}")
            index = int(idx)
        self.type, self.index = name, index

    def __repr__(self) -> str:
        return f"device(type={self.type!r}" + ("" if self.index is None else f", index={self.index}") + ")"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def check(where: Any) -> device:
    """The device named by a string or device, or an error when it is not one tinygrad5 runs on."""
    d = where if isinstance(where, device) else device(where)
    if d.type not in AVAILABLE or d.index not in (None, 0):
        raise RuntimeError(f"tinygrad5 has no {str(d)!r} device: it computes on the CPU only (available: "
                           f"{', '.join(AVAILABLE)}); use device('cpu'), or drop .cuda()/.to({str(d)!r})")
    return d
