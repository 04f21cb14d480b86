"""Stroke skeletons: a tiny path language for pen strokes and its compiler to linear polyline maps.

A glyph style is written like an SVG path in a 100x100 box (x to the right, y downwards):
``M x y`` moves the pen (starts a stroke), ``L x y`` draws a line, ``Q cx cy x y`` a quadratic
Bezier, ``C c1x c1y c2x c2y x y`` a cubic Bezier, ``A cx cy rx ry a0 a1`` an elliptic arc from angle
a0 to a1 in degrees (0 = right, 90 = up, increasing counter-clockwise as seen on the page); ``;``
lifts the pen. Every polyline point is a fixed linear combination of a few control points, so a
compiled style is a matrix ``basis`` (points x controls): jittering the controls and multiplying
gives a new, still smooth, handwritten-looking skeleton in one matrix product.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

# Spacing (in unit-box lengths) of polyline points; fine enough that later elastic warps bend lines.
_STEP = 0.05
_TOKEN = re.compile(r"[MLQCA;]|-?\d+(?:\.\d+)?")
_ARITY = {"M": 2, "L": 2, "Q": 4, "C": 6, "A": 6}


@dataclass(frozen=True)
class CompiledStyle:
    """One writing style of one character, compiled to a linear map from controls to polyline points."""

    char: str
    source: str
    ctrl: np.ndarray        # (K, 2) control points in the unit box
    basis: np.ndarray       # (P, K): points = basis @ ctrl
    seg_on: np.ndarray      # (P-1,) bool: segment i joins points i and i+1 (False at pen lifts)
    stroke_first: np.ndarray  # (S,) index of each stroke's first point
    stroke_last: np.ndarray   # (S,) index of each stroke's last point
    height: float = 1.0       # drawn height as a share of a capital's (lower-case shapes: ~0.7)

    def points(self, ctrl: np.ndarray | None = None) -> np.ndarray:
        """Return the (P, 2) polyline points for ``ctrl`` (the template controls by default)."""
        return self.basis @ (self.ctrl if ctrl is None else ctrl)


class _Builder:
    """Accumulates control points and polyline rows (each row a {control index: weight} dict)."""

    def __init__(self) -> None:
        self.ctrl: list[tuple[float, float]] = []
        self.index: dict[tuple[float, float], int] = {}
        self.rows: list[dict[int, float]] = []
        self.strokes: list[tuple[int, int]] = []
        self.cur: dict[int, float] | None = None   # current pen position as a row
        self.first = 0

    def control(self, x: float, y: float, share: bool = True) -> int:
        # Equal coordinates share one control point, so strokes that meet stay joined after jitter.
        key = (round(x, 4), round(y, 4))
        if share and key in self.index:
            return self.index[key]
        self.ctrl.append((x / 100.0, y / 100.0))
        idx = len(self.ctrl) - 1
        if share:
            self.index[key] = idx
        return idx

    def lift(self) -> None:
        if self.cur is not None and len(self.rows) - self.first >= 2:
            self.strokes.append((self.first, len(self.rows) - 1))
        elif self.cur is not None:
            self.rows = self.rows[: self.first]   # a lone point draws nothing
        self.cur = None
        self.first = len(self.rows)

    def move(self, row: dict[int, float]) -> None:
        self.lift()
        self.rows.append(row)
        self.cur = row

    def curve(self, rows_at: "callable", length: float) -> None:
        """Append points rows_at(t) for t in (0, 1] (t=0 is the current point)."""
        n = max(2, int(math.ceil(length / _STEP)))
        for k in range(1, n + 1):
            self.rows.append(rows_at(k / n))
        self.cur = self.rows[-1]


def _mix(*pairs: tuple[dict[int, float], float]) -> dict[int, float]:
    out: dict[int, float] = {}
    for row, w in pairs:
        for k, v in row.items():
            out[k] = out.get(k, 0.0) + v * w
    return out


def compile_style(char: str, source: str) -> CompiledStyle:
    """Compile one path string (see module docstring) into a :class:`CompiledStyle`."""
    tokens = _TOKEN.findall(source)
    if "".join(tokens).replace(" ", "") != re.sub(r"[\s,]", "", source):
        raise ValueError(f"style for {char!r} has characters outside the path language: {source!r}")
    b = _Builder()
    i = 0
    while i < len(tokens):
        cmd = tokens[i]
        i += 1
        if cmd == ";":
            b.lift()
            continue
        if cmd not in _ARITY:
            raise ValueError(f"style for {char!r}: expected a command at token {i}, got {cmd!r} in {source!r}")
        args = tokens[i:i + _ARITY[cmd]]
        i += _ARITY[cmd]
        if len(args) != _ARITY[cmd] or any(t in _ARITY or t == ";" for t in args):
            raise ValueError(f"style for {char!r}: {cmd} needs {_ARITY[cmd]} numbers in {source!r}")
        nums = [float(t) for t in args]
        if cmd == "M":
            b.move({b.control(*nums): 1.0})
            continue
        if cmd == "A":
            _arc(b, nums)
            continue
        if b.cur is None:
            raise ValueError(f"style for {char!r}: {cmd} before any M in {source!r}")
        start = b.cur
        rows = [{b.control(nums[j], nums[j + 1]): 1.0} for j in range(0, len(nums), 2)]
        pts = [_eval(b, start)] + [_eval(b, r) for r in rows]
        length = sum(math.dist(pts[j], pts[j + 1]) for j in range(len(pts) - 1))
        chain = [start] + rows
        deg = len(chain) - 1

        def at(t: float, chain=chain, deg=deg) -> dict[int, float]:
            return _mix(*[(chain[j], math.comb(deg, j) * t**j * (1 - t) ** (deg - j)) for j in range(deg + 1)])

        b.curve(at, length)
    b.lift()
    if not b.strokes:
        raise ValueError(f"style for {char!r} draws nothing: {source!r}")
    return _finish(char, source, b)


def _eval(b: _Builder, row: dict[int, float]) -> tuple[float, float]:
    x = sum(b.ctrl[k][0] * w for k, w in row.items())
    y = sum(b.ctrl[k][1] * w for k, w in row.items())
    return x, y


def _arc(b: _Builder, nums: list[float]) -> None:
    """Elliptic arc as a linear mix of its centre c, A = c + (rx, 0) and B = c + (0, -ry)."""
    cx, cy, rx, ry, a0, a1 = nums
    c = b.control(cx, cy, share=False)
    a = b.control(cx + rx, cy, share=False)
    u = b.control(cx, cy - ry, share=False)   # y grows downwards, so "up" is -ry

    def at(t: float) -> dict[int, float]:
        ang = math.radians(a0 + (a1 - a0) * t)
        co, si = math.cos(ang), math.sin(ang)
        return {c: 1.0 - co - si, a: co, u: si}

    start = at(0.0)
    if b.cur is None:
        b.move(start)
    else:
        b.rows.append(start)   # joined to the current point by a straight piece
    length = abs(math.radians(a1 - a0)) * (rx + ry) / 200.0
    b.curve(lambda t: at(t), length)


def _finish(char: str, source: str, b: _Builder) -> CompiledStyle:
    ctrl = np.asarray(b.ctrl, dtype=np.float64)
    basis = np.zeros((len(b.rows), len(ctrl)), dtype=np.float64)
    for r, row in enumerate(b.rows):
        for k, w in row.items():
            basis[r, k] += w
    seg_on = np.zeros(max(len(b.rows) - 1, 0), dtype=np.bool_)
    for first, last in b.strokes:
        seg_on[first:last] = True
    firsts = np.array([s[0] for s in b.strokes], dtype=np.int64)
    lasts = np.array([s[1] for s in b.strokes], dtype=np.int64)
    return CompiledStyle(char, source, ctrl, basis, seg_on, firsts, lasts)


@lru_cache(maxsize=None)
def glyph_styles(char: str) -> tuple[tuple[CompiledStyle, ...], np.ndarray]:
    """Return the compiled styles of ``char`` and their selection probabilities."""
    from .glyphs_digits import DIGIT_STYLES
    from .glyphs_letters import LETTER_STYLES, PUNCT_STYLES

    table = {**LETTER_STYLES, **DIGIT_STYLES, **PUNCT_STYLES}
    if char not in table:
        raise KeyError(f"no stroke skeleton for {char!r}; known characters: {''.join(sorted(table))}")
    # An entry is (weight, path) or (weight, path, height) for shapes written at lower-case size.
    styles = tuple(replace(compile_style(char, e[1]), height=e[2] if len(e) > 2 else 1.0) for e in table[char])
    weights = np.array([e[0] for e in table[char]], dtype=np.float64)
    return styles, weights / weights.sum()
