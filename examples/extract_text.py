"""Homework Q4: print the handwritten text in photos, line by line.

    python examples/extract_text.py photo.jpg                       # ConvNet, cached or trained on first use
    python examples/extract_text.py a.jpg b.png --arch mlp
    python examples/extract_text.py photo.jpg --model runs/convnet/model.npz --show boxes.png

Without --model the checkpoint is runs/{arch}/model.npz when present, else
$TINYGRAD5_CACHE/models/{arch}.npz (default ~/.cache/tinygrad5/models/); when neither exists a model
is trained on the generated handwriting first (ConvNet: 8 epochs, 1.5-3.5 minutes on 2 cores; MLP:
under 2 minutes) and cached.
--show writes the photo with each found box and its predicted character drawn on it (one file per
image when there are several: out-<image name>.png).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import ocr

from tinygrad5.vision import read_image
from tinygrad5.vision.debug import draw_boxes

PROG = "extract_text"


def annotate(image: np.ndarray, result: ocr.PageResult) -> np.ndarray:
    """The photo with red boxes and each box's predicted character written above it in blue."""
    from PIL import Image, ImageDraw, ImageFont

    size = max(image.shape[:2])
    out = draw_boxes(image, result.boxes, width=max(2, size // 600))
    if not len(result.boxes):
        return out
    # Labels scaled to the characters, so they stay legible on a 3000-px photo.
    height = float(np.median(result.boxes[:, 2] - result.boxes[:, 0]))
    try:
        font = ImageFont.load_default(size=int(np.clip(0.45 * height, 12, 120)))
    except TypeError:  # Pillow < 10.1 has only the small bitmap font
        font = ImageFont.load_default()
    im = Image.fromarray(out)
    draw = ImageDraw.Draw(im)
    for (y1, x1, y2, _), ch in zip(result.boxes.tolist(), result.chars):
        # Above the box, or below it when the box touches the top of the photo.
        xy, anchor = (x1, y1), "lb"
        if draw.textbbox(xy, ch, font=font, anchor=anchor)[1] < 2:
            xy, anchor = (x1, y2), "lt"
        left, top, right, bottom = draw.textbbox(xy, ch, font=font, anchor=anchor)
        draw.rectangle([left - 2, top - 2, right + 2, bottom + 2], fill=(255, 255, 255))
        draw.text(xy, ch, font=font, fill=(0, 0, 200), anchor=anchor)
    return np.asarray(im)


def show_path(show: Path, image_path: Path, several: bool) -> Path:
    """Where --show writes for one image: the given path, or one file per image when there are several."""
    if not several:
        return show
    return show.with_name(f"{show.stem}-{image_path.stem}{show.suffix or '.png'}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line flags."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("images", nargs="+", type=Path, help="photos of handwriting (JPEG, PNG, ...)")
    p.add_argument("--model", type=Path, default=None, help="checkpoint written by an example (model.npz)")
    p.add_argument("--arch", choices=ocr.ARCHS, default="convnet", help="which cached/auto-trained model to use")
    p.add_argument("--epochs", type=int, default=None, help="epochs when a model must be trained first")
    p.add_argument("--show", type=Path, default=None, help="write the photo with boxes and characters here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar while training")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 some image unreadable, 2 bad model)."""
    args = parse_args(argv)
    # Read every image first, so a typo in a file name fails before minutes of training.
    images: list[tuple[Path, np.ndarray]] = []
    failed = False
    for path in args.images:
        try:
            images.append((path, read_image(path)))
        except (OSError, ValueError) as e:
            # read_image's messages already name the file; other OS errors may not.
            why = str(e) if str(path) in str(e) else f"cannot read {path}: {e}"
            print(f"{PROG}: error: {why}", file=sys.stderr)
            failed = True
    if not images:
        return 1
    try:
        model, meta, _ = ocr.get_model(args.model, args.arch, progress=not args.no_progress, epochs=args.epochs,
                                       log=lambda m: print(m, file=sys.stderr))
    except (OSError, ValueError, KeyError) as e:
        print(f"{PROG}: error: cannot load model {args.model}: {e}", file=sys.stderr)
        return 2
    several = len(args.images) > 1
    for i, (path, image) in enumerate(images):
        if several:
            print(("\n" if i else "") + f"== {path} ==")
        result = ocr.read_page(image, model, meta)
        if len(result.boxes) == 0:
            print(f"no text found in {path}")
        else:
            print(result.text)
        if args.show is not None:
            out = show_path(args.show, path, several)
            try:
                from PIL import Image
                Image.fromarray(annotate(image, result)).save(out)
            except (OSError, ValueError) as e:
                print(f"{PROG}: error: cannot write {out}: {e}", file=sys.stderr)
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
