"""Kernel-level entries of a captured step (tinygrad5.jit): backend calls replayed on static buffers.

While a step records, `backend.current()` hands the ops a `BackendProxy`, so every backend call an
op's forward or backward makes is written down with its arguments and result. After the op, `plan`
decides whether the op can replay as those calls alone: every array a call reads must be a static
buffer (a view of an input buffer, a model array, a constant or an array an earlier entry or call
made), and every array the op hands on or keeps for its backward must come out of the calls. A
replay then calls the same backend functions on the same arrays (their contents are the new step's)
and copies each fresh result into the array the recording got, which later entries read (directly or
through views such as `x.T`). Calls given an `out=` array write it in place and need no copy.

An op whose body does array work of its own (numpy arithmetic, random draws, objects the walk below
cannot see into) gets no plan; jit_tape.py keeps a Function-level entry for it.
"""
from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any, Callable

import numpy as np

# values a result or an op's saved state may hold besides arrays: fixed by shapes, not by data
_PLAIN = (type(None), bool, int, str, tuple, list, dict, ModuleType)


def root(a: np.ndarray) -> np.ndarray:
    """The array that owns a's memory (a itself, or the base its views share)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def leaves(obj: Any, out: list) -> bool:
    """Append the arrays in obj (nested tuples, lists, dict values) to out, in a fixed order;
    False when obj holds something whose arrays the walk cannot see (a float, an object)."""
    if isinstance(obj, np.ndarray):
        out.append(obj)
        return True
    if isinstance(obj, (tuple, list)):
        return all(leaves(x, out) for x in obj)
    if isinstance(obj, dict):
        return all(leaves(x, out) for x in obj.values())
    return isinstance(obj, _PLAIN) or callable(obj)


class BackendProxy:
    """What `backend.current()` returns while a step records: the backend, with every function call
    made from an op's body appended to the recorder's `calls` (a plain pass-through otherwise)."""

    def __init__(self, module: ModuleType, rec: Any) -> None:
        self._module, self._rec, self._wrapped = module, rec, {}

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._module, name)
        if not callable(fn) or isinstance(fn, type):
            return fn
        w = self._wrapped.get(name)
        if w is None:
            rec = self._rec

            def w(*args: Any, **kwargs: Any) -> Any:
                res = fn(*args, **kwargs)
                if rec.calls is not None and not rec.in_optimizer:
                    rec.calls.append((fn, args, kwargs, res))
                return res
            self._wrapped[name] = w
        return w


def _paths(obj: Any, path: tuple, out: list) -> None:
    """Append (path, array) for each array in obj, a path being the indices (keys) leading to it."""
    if isinstance(obj, np.ndarray):
        out.append((path, obj))
    elif isinstance(obj, (tuple, list)):
        for i, x in enumerate(obj):
            _paths(x, path + (i,), out)
    elif isinstance(obj, dict):
        for k, x in obj.items():
            _paths(x, path + (k,), out)


def _takes_out(fn: Callable) -> bool:
    try:
        return "out" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _into_result(fn: Callable, args: tuple, kwargs: dict, res: Any) -> dict | None:
    """kwargs with out=res when fn takes `out=` and writes the very bits it returned (checked now, on
    the recording's arrays: a dispatch that chooses another path for a given out differs), else None."""
    if ("out" in kwargs or not isinstance(res, np.ndarray) or res.base is not None
            or not res.flags.c_contiguous or not _takes_out(fn)):
        return None
    scratch = np.empty_like(res)
    try:
        got = fn(*args, **kwargs, out=scratch)
    except (TypeError, ValueError):
        return None
    if got is not scratch or scratch.tobytes() != res.tobytes():
        return None
    return {**kwargs, "out": res}


def plan(calls: list, known: set[int], handed: list, saved: Any) -> tuple[list, set[int]] | None:
    """(replayable calls, roots they make) for an op whose backend calls were `calls`, whose result
    arrays are `handed` and whose kept state is `saved`, or None where the op must replay whole.

    Each replayable call is (fn, args, kwargs, copies): copies pairs a result array's path (indices
    into the call's result) with the recorded array it goes into. A call that can write its result
    in place (`out=`) is given the recorded array instead and needs no copy."""
    made: set[int] = set()
    steps = []
    for fn, args, kwargs, res in calls:
        reads: list = []
        if not leaves(args, reads) or not leaves({k: v for k, v in kwargs.items() if k != "out"}, reads):
            return None
        if any(id(root(a)) not in known and id(root(a)) not in made for a in reads):
            return None  # the op fed the call an array it made itself (numpy work a replay would skip)
        if isinstance(kwargs.get("out"), np.ndarray):
            made.add(id(root(kwargs["out"])))  # written whole by the call
        if not leaves(res, []):
            return None
        before = known | made
        if id(root(res)) not in before if isinstance(res, np.ndarray) else False:
            into = _into_result(fn, args, kwargs, res)
            if into is not None:
                made.add(id(res))
                steps.append((fn, args, into, ()))
                continue
        got: list = []
        _paths(res, (), got)
        copies, seen = [], set()
        for path, a in got:
            if id(root(a)) in before or id(a) in seen:
                continue  # a view of an argument (an in-place result): the same view again
            seen.add(id(a))
            copies.append((path, a))
        made |= {id(root(a)) for _, a in copies}
        steps.append((fn, args, kwargs, tuple(copies)))
    keep: list = []
    if not leaves(saved, keep):
        return None
    if any(id(root(a)) not in known and id(root(a)) not in made for a in handed + keep):
        return None  # the op hands on or keeps an array no call made
    return steps, made


def take(res: Any, path: tuple) -> Any:
    """The part of a call's result at path."""
    for i in path:
        res = res[i]
    return res


def kernel_entry(steps: list) -> Callable[[list], None]:
    """A tape entry that runs the planned backend calls and copies fresh results into place."""
    def run(flat: list) -> None:
        for fn, args, kwargs, copies in steps:
            res = fn(*args, **kwargs)
            for path, dest in copies:
                np.copyto(dest, take(res, path) if path else res)
    run.kind, run.steps = "calls", steps  # for benchmarks/jit_parts.py's breakdown
    return run


def copies_into(results: list, known: set[int]) -> list[tuple[int, np.ndarray]]:
    """For a Function-level entry: (path, array) of the result arrays a replay must copy into place
    (those that are not views of arrays that already were static buffers)."""
    return [((i,), a) for i, a in enumerate(results) if a is not None and id(root(a)) not in known]
