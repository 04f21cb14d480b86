"""Turning an ink mask's connected components into one box per character.

Boxes are int rows [y1, x1, y2, x2] with y2, x2 exclusive (skimage's regionprops.bbox order).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

# Pieces whose longer side is below this fraction of the typical character height are specks
# (periods, commas, dust, JPEG blotches): they are only ever absorbed, never kept on their own.
# Capitals and digits all reach (nearly) full height, so a real character is never that small;
# with a 15 px marker a period is ~20 px across while 60 px letters give a 24 px limit.
SPECK_FRACTION = 0.4


def component_boxes(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (n×4) and pixel counts (n) of labels 1..n of a label image."""
    boxes = np.zeros((n, 4), np.int64)
    for i, sl in enumerate(ndi.find_objects(labels, max_label=n)):
        if sl is not None:
            boxes[i] = (sl[0].start, sl[1].start, sl[0].stop, sl[1].stop)
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:].astype(np.int64)
    return boxes, areas


def touches_border(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Which boxes reach the image edge (page edges, desk, vignetting, cut-off shadows)."""
    return (boxes[:, 0] <= 0) | (boxes[:, 1] <= 0) | (boxes[:, 2] >= shape[0]) | (boxes[:, 3] >= shape[1])


def typical_height(boxes: np.ndarray, areas: np.ndarray, shape: tuple[int, int], min_side: float) -> float:
    """A robust character height: the ink-weighted median height of character-like pieces.

    Returns 0 when no piece is character-like (a page of dust and specks holds no letters).
    """
    if len(boxes) == 0:
        return 0.0
    h = (boxes[:, 2] - boxes[:, 0]).astype(np.float64)
    w = (boxes[:, 3] - boxes[:, 1]).astype(np.float64)
    # Character-like pieces: bigger than a few stroke widths, not a long horizontal line, not a
    # filled blob (clumped dust, a stain; letters are strokes and fill well under 70 % of their
    # box unless long and thin like a "1"), and not cut by the image edge (a desk or page edge
    # can outweigh every letter together).
    fill = areas / np.maximum(h * w, 1)
    stroke_like = (fill < 0.7) | (np.maximum(h, w) >= 3 * np.minimum(h, w))
    ok = (np.maximum(h, w) >= min_side) & (w <= 6 * np.maximum(h, 1)) & stroke_like
    inside = ok & ~touches_border(boxes, shape)
    # If everything touches the edge (a close-up), trust only pieces smaller than half the image.
    ok = inside if inside.any() else ok & (h < shape[0] / 2) & (w < shape[1] / 2)
    if not ok.any():
        return 0.0  # only specks: nothing on the page is shaped like a character
    # Weighting by ink makes specks and fragments count little without any size cut-off.
    order = np.argsort(h[ok])
    hs, wt = h[ok][order], areas[ok][order].astype(np.float64)
    cum = np.cumsum(wt)
    return float(hs[np.searchsorted(cum, cum[-1] / 2)])


class _UnionFind:
    """Minimal disjoint-set forest over range(n)."""

    def __init__(self, n: int) -> None:
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return int(i)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _merge_mask(a: np.ndarray, b: np.ndarray, height: float, stroke: float) -> np.ndarray:
    """For piece box `a` and piece boxes `b` (m×4): which look like parts of one character."""
    ha, wa = a[2] - a[0], a[3] - a[1]
    hb, wb = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    mh = np.maximum(a[2], b[:, 2]) - np.minimum(a[0], b[:, 0])
    mw = np.maximum(a[3], b[:, 3]) - np.minimum(a[1], b[:, 1])
    ov_x = np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1])
    ov_y = np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0])
    speck_a = max(ha, wa) < SPECK_FRACTION * height
    speck_b = np.maximum(hb, wb) < SPECK_FRACTION * height
    if speck_a:
        # A speck joins only a real piece whose box (grown by a stroke) contains it: a broken
        # off bit of a stroke, never dust above a letter or the period after a digit.
        return (
            ~speck_b
            & (a[0] >= b[:, 0] - stroke) & (a[2] <= b[:, 2] + stroke)
            & (a[1] >= b[:, 1] - stroke) & (a[3] <= b[:, 3] + stroke)
        )
    inside = (
        (b[:, 0] >= a[0] - stroke) & (b[:, 2] <= a[2] + stroke)
        & (b[:, 1] >= a[1] - stroke) & (b[:, 3] <= a[3] + stroke)
    )
    # Stacked or nested: a T's bar over its stem, an E's loose arms, a piece inside a Q. The
    # merged box must still be one character tall, which keeps separate text lines apart.
    stacked = (ov_x >= 0.5 * np.minimum(wa, wb)) & (-ov_y <= 0.25 * height) & (mh <= 1.35 * height)
    # Side by side and nearly touching: a stroke broken by a skip of the pen. When one piece is
    # clearly partial a gap of 1.5 strokes is allowed; between two full-size pieces (an H with
    # a hole in its bar) only one stroke, so "IL" written that tightly is merged: ambiguous.
    partial = (np.minimum(ha, hb) < 0.75 * height) | (np.minimum(wa, wb) < 0.25 * height)
    limit = np.where(partial, max(1.5 * stroke, 0.04 * height), stroke)
    side = (ov_y >= 0.5 * np.minimum(ha, hb)) & (-ov_x <= limit) & (mw <= 1.1 * np.maximum(mh, height))
    return np.where(speck_b, inside, stacked | side)


def merge_pieces(boxes: np.ndarray, height: float, stroke: float) -> np.ndarray:
    """Group pieces that form one character; returns a group id per piece."""
    n = len(boxes)
    if n == 0:
        return np.zeros(0, np.int64)
    uf = _UnionFind(n)
    # Only nearby pairs can merge: sort by x and look only as far right as a piece can reach.
    order = np.argsort(boxes[:, 1], kind="stable")
    starts = boxes[order, 1]
    reach = 0.3 * height + 2 * stroke
    for pos, i in enumerate(order):
        end = int(np.searchsorted(starts, boxes[i, 3] + reach, side="right"))
        near = order[pos + 1:end]
        if len(near):
            for j in near[_merge_mask(boxes[i], boxes[near], height, stroke)]:
                uf.union(int(i), int(j))
    # Union-find makes merging transitive: bar + stem + loose foot end up as one group.
    return np.array([uf.find(i) for i in range(n)])


def group_boxes(boxes: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Union boxes sharing a group id; returns merged boxes and the member indices of each."""
    ids = np.unique(groups)
    merged = np.zeros((len(ids), 4), np.int64)
    members = []
    for k, g in enumerate(ids):
        idx = np.flatnonzero(groups == g)
        members.append(idx)
        sub = boxes[idx]
        merged[k] = (sub[:, 0].min(), sub[:, 1].min(), sub[:, 2].max(), sub[:, 3].max())
    return merged, members


def character_filter(boxes: np.ndarray, height: float, shape: tuple[int, int]) -> np.ndarray:
    """Boolean keep-mask: drops specks, long rule lines and page-sized blobs (shadows, edges)."""
    if len(boxes) == 0 or height <= 0:
        return np.zeros(len(boxes), bool)
    h = boxes[:, 2] - boxes[:, 0]
    w = boxes[:, 3] - boxes[:, 1]
    speck = np.maximum(h, w) < SPECK_FRACTION * height
    too_big = (h > 2.5 * height) | (w > 4.0 * height)
    # Long thin horizontals are rules or underlines; thin verticals may well be a "1" or "I".
    line_like = (w > 2.0 * height) & (h < 0.3 * height)
    # A sliver along the image edge is a page edge or a shadow boundary, not a "1".
    edge_sliver = touches_border(boxes, shape) & (np.maximum(h, w) > 8 * np.maximum(np.minimum(h, w), 1))
    return ~(speck | too_big | line_like | edge_sliver)
