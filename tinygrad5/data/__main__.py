"""Command line: ``python -m tinygrad5.data {preview,page,generate} ...`` to look at and prebuild the data."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .classes import CLASSES, IMAGE_SIZE
from .labelled import LAYOUTS, LabelledFileError, load_labelled
from .synthetic import SPLIT_SIZES, load_synthetic, render_char


def _grid(rows: list[list[np.ndarray]], gap_after: int | None = None) -> np.ndarray:
    """Tile rows of 32x32 images with grey 1-pixel borders; an optional wide grey gap after column ``gap_after``."""
    cell = IMAGE_SIZE + 2
    cols = max(len(r) for r in rows)
    gap = cell // 2 if gap_after is not None else 0
    grid = np.full((len(rows) * cell, cols * cell + gap), 0.6, dtype=np.float32)
    for r, images in enumerate(rows):
        for c, img in enumerate(images):
            x0 = c * cell + 1 + (gap if gap_after is not None and c >= gap_after else 0)
            grid[r * cell + 1:r * cell + 1 + IMAGE_SIZE, x0:x0 + IMAGE_SIZE] = img
    return grid


def _save_grid(grid: np.ndarray, labels: list[str], out: str, title: str) -> None:
    """Show a grid of cells on a 0-1 grey scale, one label per row of cells, and save it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cell = IMAGE_SIZE + 2
    fig, ax = plt.subplots(figsize=(grid.shape[1] / cell * 0.45 + 0.6, len(labels) * 0.45 + 0.3), dpi=120)
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_yticks(np.arange(len(labels)) * cell + cell / 2, labels)
    ax.set_xticks([])
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def preview(out: str, per_class: int = 10, seed: int = 0) -> None:
    """Save a grid of ``per_class`` generated samples for each of the 36 classes (one row per class)."""
    rng = np.random.default_rng(seed)
    rows = [[render_char(ch, rng) for _ in range(per_class)] for ch in CLASSES]
    _save_grid(_grid(rows), list(CLASSES), out, "tinygrad5.data.synthetic")


def compare(out: str, path: str, layout: str = "nist", per_class: int = 6, seed: int = 0) -> int:
    """Save, for each class present in the labelled file, ``per_class`` generated and real samples side by side.

    Real samples are drawn at random (seeded) from the file; values outside [0, 1] show clipped.
    Returns the number of classes shown.
    """
    x, y = load_labelled(path, layout)
    rng = np.random.default_rng(seed)
    present = np.unique(y)
    rows = []
    for c in present:
        idx = rng.permutation(np.flatnonzero(y == c))[:per_class]
        generated = [render_char(CLASSES[c], rng) for _ in range(per_class)]
        rows.append(generated + [x[i].reshape(IMAGE_SIZE, IMAGE_SIZE) for i in idx])
    title = f"left: generated (tinygrad5.data.synthetic)    right: real, {Path(path).name} ({layout} layout)"
    _save_grid(_grid(rows, gap_after=per_class), [CLASSES[c] for c in present], out, title)
    return len(present)


def page(out: str, seed: int = 0) -> None:
    """Save one generated text page (random lines) as an image and print its text."""
    from PIL import Image

    from .pages import make_page, random_lines

    lines = random_lines(np.random.default_rng(seed))
    img, truth = make_page(lines, seed)
    Image.fromarray(img).save(out)
    print(f"{out}: {img.shape[1]}x{img.shape[0]} px, {len(truth.boxes)} characters, "
          f"height {truth.char_height:.0f} px, pen {truth.pen_width:.1f} px")
    print("\n".join(truth.lines))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m tinygrad5.data``."""
    ap = argparse.ArgumentParser(prog="python -m tinygrad5.data", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("preview", help="grid of generated 32x32 characters, 36 classes x N samples; with "
                                       "--compare FILE, generated and real samples of each class in FILE side by side")
    p.add_argument("--out", default=None, help="PNG to write (default glyphs.png, or compare.png with --compare)")
    p.add_argument("--per-class", type=int, default=None,
                   help="samples per class (default 10; 6 a side with --compare)")
    p.add_argument("--compare", default=None, metavar="FILE",
                   help="labelled .npz (x, y) or NIST .mat file of real characters to show beside generated ones")
    p.add_argument("--layout", choices=LAYOUTS, default="nist",
                   help="row layout of --compare FILE: nist = column-major, as the NIST36 files (default); "
                        "upright = row-major")
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("page", help="one generated text page")
    p.add_argument("--out", default="page.png")
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("generate", help="build and cache the generated splits")
    p.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.cmd == "preview" and args.out is None:
        args.out = "compare.png" if args.compare else "glyphs.png"
    if args.cmd in ("preview", "page"):
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if args.cmd == "preview" and args.compare:
        try:
            n = compare(args.out, args.compare, args.layout, args.per_class or 6, args.seed)
        except LabelledFileError as exc:
            ap.exit(2, f"python -m tinygrad5.data preview: error: {exc}\n")
        print(f"wrote {args.out}: {n} classes, generated beside real from {args.compare}")
    elif args.cmd == "preview":
        preview(args.out, args.per_class or 10, args.seed)
        print(f"wrote {args.out}")
    elif args.cmd == "page":
        page(args.out, args.seed)
    else:
        for split in SPLIT_SIZES:
            t = time.perf_counter()
            x, _ = load_synthetic(split, seed=args.seed)
            print(f"{split}: {x.shape[0]} images in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
