"""Homework Q4: print the handwritten text in photos, line by line.

    python examples/extract_text.py photo.jpg                       # ConvNet, cached or trained on first use
    python examples/extract_text.py a.jpg b.png --arch mlp
    python examples/extract_text.py photo.jpg --model runs/convnet/model.npz --show boxes.png
    python examples/extract_text.py photo.jpg --train-data emnist --data-dir ~/emnist   # first model on EMNIST

Without --model the checkpoint is runs/{arch}/model.npz when present, else
$TINYGRAD5_CACHE/models/{arch}.npz (default ~/.cache/tinygrad5/models/); when neither exists a model
is trained on the generated handwriting first (ConvNet: 8 epochs, 1.5-3.5 minutes on 2 cores; MLP:
under 2 minutes) and cached.
--show writes the photo with each found box and its predicted character drawn on it (one file per
image when there are several: out-<image name>.png).
Photos with a long side over 4096 px (vision.io.WORKING_SIDE) are first shrunk by an integer factor to at most that
(area average; boxes and --show are then in the shrunk photo's pixels). Any image mode Pillow
opens is read as the picture it shows (16-bit and float greyscale scaled to their own range).
An image that cannot be read (missing, not an image, under 8 px, over Pillow's decompression-bomb
limit) gets one error line; the others are still read, and the exit status is then 1.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import numpy as np

import common
import ocr

from tinygrad5.vision import read_image
from tinygrad5.vision.debug import draw_boxes
from tinygrad5.vision.io import WORKING_SIDE

PROG = "extract_text"
MIN_SIDE = 8  # pixels: smaller images cannot hold a letter (binarize.to_grey refuses them)


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


def report_error(path: Path, e: BaseException) -> None:
    """One stderr line naming the image and what is wrong with it."""
    # read_image's messages already name the file; others may not.
    why = str(e) if str(path) in str(e) else f"cannot read {path}: {e}"
    print(f"{PROG}: error: {why}", file=sys.stderr)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line flags."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0],
                                epilog=f"Photos whose long side exceeds {WORKING_SIDE} px are downscaled to at most "
                                       f"{WORKING_SIDE} px first (an integer factor, area average).")
    p.add_argument("images", nargs="+", type=Path, help="photos of handwriting (JPEG, PNG, ...)")
    p.add_argument("--model", type=Path, default=None, help="checkpoint written by an example (model.npz)")
    p.add_argument("--arch", choices=ocr.ARCHS, default="convnet", help="which cached/auto-trained model to use")
    p.add_argument("--epochs", type=int, default=None, help="epochs when a model must be trained first")
    p.add_argument("--show", type=Path, default=None, help="write the photo with boxes and characters here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar while training")
    p.add_argument("--train-data", choices=common.DATA_CHOICES, default="synthetic",
                   help="what a first model is trained on when there is no --model (cached per data set)")
    p.add_argument("--data-dir", type=Path, default=None, help="folder holding the --train-data files")
    p.add_argument("--emnist-split", choices=common.EMNIST_SPLITS, default="balanced",
                   help="EMNIST split with --train-data emnist")
    args = p.parse_args(argv)
    if args.train_data == "nist36" and args.data_dir is None:
        args.data_dir = common.find_nist36_dir()  # $TINYGRAD5_NIST36, when it holds the files
    if args.train_data != "synthetic" and args.data_dir is None:
        p.error(f"--train-data {args.train_data} needs --data-dir DIR, the folder with its files")
    return args


def training_data(args: argparse.Namespace) -> tuple[str, Callable[[], dict]]:
    """The cache tag of --train-data and a function loading its train and valid splits."""
    if args.train_data == "nist36":
        return "nist36", lambda: {s: common.load_nist36(args.data_dir, s) for s in ("train", "valid")}
    tag = f"emnist-{args.emnist_split}" if args.train_data == "emnist" else args.train_data
    return tag, lambda: common.public_splits(args.train_data, args.data_dir, args.emnist_split)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 some image unreadable, 2 bad model)."""
    args = parse_args(argv)
    # Read every image first, so a typo in a file name fails before minutes of training.
    images: list[tuple[Path, np.ndarray]] = []
    failed = False
    for path in args.images:
        try:
            image = read_image(path, max_side=WORKING_SIDE)
            if min(image.shape[:2]) < MIN_SIDE:
                h, w = image.shape[:2]
                raise ValueError(f"{path} is {w}×{h} pixels, too small to hold letters "
                                 f"(at least {MIN_SIDE}×{MIN_SIDE} needed)")
            images.append((path, image))
        except (OSError, ValueError) as e:
            report_error(path, e)
            failed = True
    if not images:
        return 1
    tag, load_data = training_data(args) if args.train_data != "synthetic" else ("synthetic", None)
    try:
        model, meta, _ = ocr.get_model(args.model, args.arch, progress=not args.no_progress, epochs=args.epochs,
                                       log=lambda m: print(m, file=sys.stderr), data=tag, load_data=load_data)
    except (OSError, ValueError, KeyError, TypeError) as e:
        what = f"load model {args.model}" if args.model is not None else f"get the {args.arch} model ({tag})"
        print(f"{PROG}: error: cannot {what}: {e}", file=sys.stderr)
        return 2
    several = len(args.images) > 1
    for i, (path, image) in enumerate(images):
        if several:
            print(("\n" if i else "") + f"== {path} ==")
        try:
            result = ocr.read_page(image, model, meta)
        except (ValueError, MemoryError) as e:
            # One bad image must not cost the others their reading.
            report_error(path, e)
            failed = True
            continue
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
