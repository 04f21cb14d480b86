"""Grouping character boxes into text lines, left to right, with word spaces.

    boxes, bw = find_letters(image)
    lines = group_lines(boxes)                # top to bottom
    chars = predict(crop_letters(bw, boxes))  # one string per box, in box order
    print(page_text(lines, chars))            # one text line per Line

A `Line` holds indices into `boxes` sorted left to right and, for each, whether a word space
comes before it. Spaces come from the line's own gaps (narrow "1"/"I" boxes are widened to half
a character height first): sorted, the gaps must jump by at least `space_ratio` from the widest
letter gap to the narrowest word gap (the first such jump counts), and a word gap must be at
least `min_space` character heights. When every character is spaced alike (letters as far apart
as words, as on a sheet of separate capitals) no gap stands out and no spaces are emitted; that
case is genuinely ambiguous from geometry alone. A line that cannot tell by itself (a single
gap, or only word gaps as in "A B C") is judged against the letter gap of the page's other lines.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Handwriting drifts, but a line tilted by more than ~17° is not read as one line.
_MAX_SLOPE = 0.3


@dataclass(frozen=True)
class Line:
    """One text line: box indices from left to right and whether a space precedes each."""

    indices: tuple[int, ...]
    space_before: tuple[bool, ...]

    def text(self, chars: Sequence[str]) -> str:
        """This line's text, given one string per box (indexed like the boxes)."""
        return line_text(self, chars)

    def __len__(self) -> int:
        return len(self.indices)


def _check_boxes(boxes: np.ndarray) -> np.ndarray:
    """Validate a K×4 box array [y1, x1, y2, x2] and return it as float64."""
    b = np.asarray(boxes)
    if b.size == 0:
        return np.zeros((0, 4))
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must be K×4 [y1, x1, y2, x2], got shape {b.shape}")
    b = b.astype(np.float64)
    if np.any(b[:, 2] <= b[:, 0]) or np.any(b[:, 3] <= b[:, 1]):
        raise ValueError("boxes must have y2 > y1 and x2 > x1 (y2, x2 exclusive)")
    return b


class _Track:
    """A line being built: its points, and a slope fitted once it spans enough width."""

    def __init__(self, i: int, cx: float, cy: float) -> None:
        self.members = [i]
        self.xs = [cx]
        self.ys = [cy]
        self.slope = 0.0

    def predict(self, cx: float) -> float:
        """Expected centre y at column cx, continuing from the line's rightmost character."""
        return self.ys[-1] + self.slope * (cx - self.xs[-1])

    def add(self, i: int, cx: float, cy: float, height: float) -> None:
        """Append a character and refit the slope when the line spans over a character height."""
        self.members.append(i)
        self.xs.append(cx)
        self.ys.append(cy)
        x, y = np.array(self.xs), np.array(self.ys)
        if x.max() - x.min() > height:
            slope = np.polyfit(x, y, 1)[0]
            self.slope = float(np.clip(slope, -_MAX_SLOPE, _MAX_SLOPE))


def _assign(b: np.ndarray, height: float, tolerance: float) -> list[_Track]:
    """Sweep boxes left to right, attaching each to the line whose predicted centre is closest."""
    cy = (b[:, 0] + b[:, 2]) / 2
    cx = (b[:, 1] + b[:, 3]) / 2
    tracks: list[_Track] = []
    for i in np.argsort(cx, kind="stable"):
        best, cost = None, np.inf
        for t in tracks:
            off = abs(cy[i] - t.predict(cx[i])) / height
            if off >= tolerance:
                continue
            # Between plausible lines prefer the one that ended nearby: an extrapolation over
            # a long empty stretch (a short line's unknown slope) is less certain.
            c = off + 0.02 * abs(cx[i] - t.xs[-1]) / height
            if c < cost:
                best, cost = t, c
        if best is None:
            tracks.append(_Track(int(i), cx[i], cy[i]))
        else:
            best.add(int(i), cx[i], cy[i], height)
    return tracks


def _gaps(sub: np.ndarray, height: float) -> np.ndarray:
    """Gaps between consecutive boxes of a line, each box widened to at least half its height.

    A narrow "1" or "I" leaves much more paper around it than an "M"; without widening it the
    gaps on either side of it would read as word spaces.
    """
    cx = (sub[:, 1] + sub[:, 3]) / 2
    half = np.maximum(sub[:, 3] - sub[:, 1], 0.5 * height) / 2
    return (cx[1:] - half[1:]) - (cx[:-1] + half[:-1])


def _line_cut(gaps: np.ndarray, h: float, space_ratio: float, min_space: float) -> float | None:
    """The widest letter gap of a line whose gaps split clearly into letter and word gaps."""
    if len(gaps) < 2:
        return None
    # Word gaps must stand apart from letter gaps: sorted, the gaps must jump by a large factor,
    # so evenly but loosely spaced writing (handwriting gaps vary by ±40 %) gets no spaces.
    # Touching or overlapping letters all count as a gap of 0.1 h.
    g = np.sort(np.maximum(gaps, 0.1 * h))
    # Only cuts with a wide enough gap above them are candidates: a big relative jump among
    # small letter gaps (touching letters next to normal ones) is not a word break.
    jumps = np.where(g[1:] >= min_space * h, g[1:] / g[:-1], 0.0)
    big = np.flatnonzero(jumps >= space_ratio)
    # The first big jump separates letter gaps from word gaps; word gaps themselves vary widely
    # (a dropped period widens one), so later jumps must not move the cut up.
    return float(g[big[0]]) if len(big) else None


def _word_spaces(
    b: np.ndarray, orders: list[list[int]], space_ratio: float, min_space: float
) -> list[tuple[bool, ...]]:
    """For each left-to-right line, whether each character has a word gap before it."""
    heights = [float(np.median(b[o, 2] - b[o, 0])) for o in orders]
    gaps = [_gaps(b[o], h) for o, h in zip(orders, heights)]
    cuts = [_line_cut(g, h, space_ratio, min_space) for g, h in zip(gaps, heights)]
    # Lines that split clearly tell the page's letter gap; a line that cannot tell on its own
    # (one gap, or only word gaps as in "A B C") is judged against it. If no line splits, the
    # page is evenly spaced and only single-gap lines are judged, against its lower quartile.
    letters = [g[g <= c] for g, c in zip(gaps, cuts) if c is not None]
    trusted = bool(letters)
    pooled = np.concatenate(letters if trusted else [g for g in gaps if len(g)] or [np.zeros(1)])
    page_letter = float(np.median(pooled) if trusted else np.percentile(pooled, 25))
    out = []
    for g, h, cut in zip(gaps, heights, cuts):
        if cut is None and (len(g) < 2 or trusted):
            cut = max(space_ratio * max(page_letter, 0.1 * h), min_space * h)
        if cut is None:
            out.append((False,) * (len(g) + 1))
        else:
            out.append((False,) + tuple(bool(x > cut) for x in g))
    return out


def group_lines(
    boxes: np.ndarray,
    tolerance: float = 0.5,
    space_ratio: float = 1.6,
    min_space: float = 0.5,
) -> list[Line]:
    """Group K×4 boxes [y1, x1, y2, x2] into lines, top to bottom, each sorted left to right.

    A box joins the line whose centre, extrapolated along that line's fitted slope, is within
    `tolerance` character heights of its own centre; otherwise it starts a new line. This
    follows sloped and wavy lines and characters of uneven height. See the module docstring
    for how `space_ratio` and `min_space` decide word spaces.
    """
    b = _check_boxes(boxes)
    if len(b) == 0:
        return []
    height = float(np.median(b[:, 2] - b[:, 0]))
    tracks = _assign(b, height, tolerance)

    cx_all = (b[:, 1] + b[:, 3]) / 2
    mid = float(np.median(cx_all))

    def key(t: _Track) -> float:
        # Where the line crosses the middle of the page, so slanted lines sort correctly.
        x, y = np.array(t.xs), np.array(t.ys)
        return float(np.mean(y) + t.slope * (mid - np.mean(x)))

    tracks.sort(key=key)
    orders = [sorted(t.members, key=lambda i: (cx_all[i], b[i, 1])) for t in tracks]
    spaces = _word_spaces(b, orders, space_ratio, min_space)
    return [Line(tuple(int(i) for i in o), sp) for o, sp in zip(orders, spaces)]


def line_text(line: Line, chars: Sequence[str]) -> str:
    """Join one line's characters (chars[i] belongs to box i), inserting its word spaces."""
    if len(chars) and max(line.indices, default=-1) >= len(chars):
        raise ValueError(f"line refers to box {max(line.indices)} but only {len(chars)} chars given")
    return "".join((" " if s else "") + str(chars[i]) for i, s in zip(line.indices, line.space_before))


def page_text(lines: Sequence[Line], chars: Sequence[str]) -> str:
    """All lines' text joined by newlines, top to bottom."""
    return "\n".join(line_text(line, chars) for line in lines)
