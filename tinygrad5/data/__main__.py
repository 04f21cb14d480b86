"""Command line: ``python -m tinygrad5.data {preview,page,generate} ...`` to look at and prebuild the data."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .classes import CLASSES, IMAGE_SIZE
from .synthetic import SPLIT_SIZES, load_synthetic, render_char


def preview(out: str, per_class: int = 10, seed: int = 0) -> None:
    """Save a grid of ``per_class`` generated samples for each of the 36 classes (one row per class)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    cell = IMAGE_SIZE + 2
    grid = np.full((len(CLASSES) * cell, per_class * cell), 0.6, dtype=np.float32)   # grey cell borders
    for r, ch in enumerate(CLASSES):
        for c in range(per_class):
            grid[r * cell + 1:r * cell + 1 + IMAGE_SIZE, c * cell + 1:c * cell + 1 + IMAGE_SIZE] = render_char(ch, rng)
    fig, ax = plt.subplots(figsize=(per_class * 0.45 + 0.6, len(CLASSES) * 0.45), dpi=120)
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_yticks(np.arange(len(CLASSES)) * cell + cell / 2, list(CLASSES))
    ax.set_xticks([])
    ax.set_title("tinygrad5.data.synthetic", fontsize=9)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


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
    p = sub.add_parser("preview", help="grid of generated 32x32 characters, 36 classes x N samples")
    p.add_argument("--out", default="glyphs.png")
    p.add_argument("--per-class", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("page", help="one generated text page")
    p.add_argument("--out", default="page.png")
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("generate", help="build and cache the generated splits")
    p.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.cmd in ("preview", "page"):
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if args.cmd == "preview":
        preview(args.out, args.per_class, args.seed)
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
