"""Score a checkpoint the examples saved on a labelled file of 32x32 characters.

    python examples/evaluate.py runs/mlp/model.npz --data ../shared/real/nist26_dev.npz
    python examples/evaluate.py runs/convnet/model.npz --data nist36_valid.mat --confusion confusion.png
    python examples/evaluate.py runs/autoencoder/model.npz --data letters.npz --layout upright
    python examples/evaluate.py runs/convnet_s0/model.npz runs/convnet_s1/model.npz --data letters.npz

Several classifier checkpoints (say, one per --seed and --data-seed) are scored as one model: the average of their
softmax probabilities.

Classifiers (mlp, convnet): accuracy over all 36 classes, per-class accuracy, the most confused pairs,
and the last line `evaluate: n=N accuracy=A letters_accuracy=L`, where L takes the argmax over only the
classes present in the labels (the 26 letters for a file of letters). Autoencoders: mean per-image
PSNR (reconstruction and target clipped to [0, 1]), a reconstructions figure in --out, and the last
line `evaluate: n=N psnr=P`. A file or checkpoint that does not fit exits with status 2 and a one-line
message naming it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import common
import models
import plots
from autoencoder_nist36 import psnr

import tinygrad5 as tg
from tinygrad5.data import CLASSES
from tinygrad5.data.emnist import DatasetFileError, load_emnist, load_mnist
from tinygrad5.data.labelled import LAYOUTS, LabelledFileError, load_labelled
from tinygrad5.serialization import CheckpointError


class EvaluateError(Exception):
    """A checkpoint or data file that cannot be scored; main prints it on one line and exits 2."""


def load_checkpoint(path: Path) -> tuple[tg.nn.Module, dict]:
    """Rebuild an example's model from its checkpoint's meta "arch"; EvaluateError names what is wrong."""
    if not path.is_file():
        raise EvaluateError(f"{path}: no such checkpoint")
    try:
        ckpt = tg.load(path)
    except (CheckpointError, ValueError, OSError, KeyError) as exc:
        msg = str(exc)
        raise EvaluateError(msg if str(path) in msg else f"{path}: not a tinygrad5 checkpoint ({msg})") from None
    meta = ckpt.get("meta") if isinstance(ckpt, dict) else None
    if not isinstance(meta, dict) or "arch" not in meta or "model" not in ckpt:
        raise EvaluateError(f"{path}: not a checkpoint of the examples (no 'model' weights and 'meta' with an "
                            "'arch'); save one with examples/common.py save_model")
    if meta["arch"] not in models.BUILDERS:
        raise EvaluateError(f"{path}: unknown arch {meta['arch']!r}; known: {sorted(models.BUILDERS)}")
    model = models.BUILDERS[meta["arch"]]()
    try:
        model.load_state_dict(ckpt["model"])
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise EvaluateError(f"{path}: weights do not fit a {meta['arch']} ({exc})") from None
    model.eval()
    return model, meta


def load_members(paths: list[Path]) -> list[tuple[tg.nn.Module, dict]]:
    """The checkpoints to score together: one of any kind, or several classifiers over the same classes."""
    members = [load_checkpoint(path) for path in paths]
    if len(members) > 1:
        for path, (_, meta) in zip(paths, members):
            if meta["arch"] == "autoencoder":
                raise EvaluateError(f"{path}: an autoencoder; only classifiers can be averaged with other "
                                    "checkpoints (score it alone)")
            classes, first = str(meta.get("classes", CLASSES)), str(members[0][1].get("classes", CLASSES))
            if classes != first:
                raise EvaluateError(f"{path}: classes {classes!r} differ from {paths[0]}'s {first!r}; "
                                    "averaged models must share their classes")
    return members


def model_input(x: np.ndarray, meta: dict) -> np.ndarray:
    """Upright rows in the layout and shape the model was trained on."""
    if meta.get("layout", "upright") == "nist":
        x = x.reshape(-1, 32, 32).transpose(0, 2, 1)
    return np.ascontiguousarray(x).reshape(models.INPUT_SHAPES[meta["arch"]])


@tg.no_grad()
def logits_of(model: tg.nn.Module, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The model's outputs (logits or reconstructions) over x in batches, without building a graph."""
    return np.concatenate([model(tg.Tensor(x[i:i + batch_size])).data for i in range(0, len(x), batch_size)])


def mean_log_probs(members: list[tuple[tg.nn.Module, dict]], x: np.ndarray, n_classes: int,
                   batch_size: int = 512) -> np.ndarray:
    """Log of the members' mean softmax probabilities over x (one member: its log-softmax)."""
    log_probs = []
    for model, meta in members:
        logits = logits_of(model, model_input(x, meta), batch_size)
        if logits.ndim != 2 or logits.shape[1] != n_classes:
            raise EvaluateError(f"model outputs shape {logits.shape}, but its meta names {n_classes} classes")
        z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
        log_probs.append(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))
    # in the log domain, so a tiny probability stays finite (its log is what the cross-entropy needs)
    return np.logaddexp.reduce(np.stack(log_probs), axis=0) - np.log(len(members))


def score_classifier(members: list[tuple[tg.nn.Module, dict]], x: np.ndarray, y: np.ndarray,
                     confusion_png: Path | None, top: int, batch_size: int = 512) -> str:
    """Print accuracy, per-class accuracy and confusions of one model or the average of several; the summary line."""
    meta = members[0][1]
    classes = str(meta.get("classes", CLASSES))
    if any(c not in CLASSES for c in classes) or any(CLASSES[c] not in classes for c in np.unique(y)):
        raise EvaluateError(f"the checkpoint's classes {classes!r} do not cover the labels' "
                            f"{''.join(CLASSES[c] for c in np.unique(y))!r}")
    log_probs = mean_log_probs(members, x, len(classes), batch_size)
    col = np.array([CLASSES.index(c) for c in classes], dtype=np.int64)  # the model's columns in CLASSES
    pred = col[log_probs.argmax(axis=1)]
    present = np.unique(y)
    keep = np.flatnonzero(np.isin(col, present))
    pred_present = col[keep[log_probs[:, keep].argmax(axis=1)]]
    acc, letters_acc = float((pred == y).mean()), float((pred_present == y).mean())
    target = np.array([classes.index(CLASSES[c]) for c in y])
    xent = float(np.mean(-log_probs[np.arange(len(y)), target]))
    print(f"{len(y)} images, {len(present)} classes present; accuracy {acc:.4f} over all {len(classes)} classes, "
          f"{letters_acc:.4f} over the {len(present)} present; mean cross-entropy {xent:.4f}")
    cm = common.confusion_matrix(y, pred)
    per_class = [(CLASSES[c], cm[c, c] / cm[c].sum(), int(cm[c].sum())) for c in present]
    print("per-class accuracy:")
    for i in range(0, len(per_class), 6):
        print("  " + "  ".join(f"{c} {a:6.1%} ({n:3d})" for c, a, n in per_class[i:i + 6]))
    worst = sorted(per_class, key=lambda t: t[1])[:top]
    print("weakest classes:", ", ".join(f"{c} {a:.0%}" for c, a, _ in worst))
    print("most confused pairs:", ", ".join(f"{a}/{b} ({n})" for a, b, n in common.top_confusions(cm, top) if n))
    off = cm - np.diag(np.diag(cm))
    order = np.argsort(off, axis=None)[::-1][:top]
    print("most frequent errors (true->predicted):",
          ", ".join(f"{CLASSES[i]}->{CLASSES[j]} ({off[i, j]})" for i, j in zip(*np.unravel_index(order, off.shape))
                    if off[i, j]))
    if confusion_png is not None:
        confusion_png.parent.mkdir(parents=True, exist_ok=True)
        what = meta["arch"] if len(members) == 1 else f"{len(members)} models' average"
        plots.confusion(cm, confusion_png, f"{what} confusion (accuracy {acc:.3f})")
        print(f"confusion matrix in {confusion_png}")
    return common.summary("evaluate", n=len(y), accuracy=acc, letters_accuracy=letters_acc)


def score_autoencoder(model: tg.nn.Module, meta: dict, x: np.ndarray, y: np.ndarray, out: Path,
                      batch_size: int = 512) -> str:
    """Print the mean PSNR, save a reconstructions figure; return the summary line."""
    recon = logits_of(model, model_input(x, meta), batch_size).reshape(len(x), -1)
    if meta.get("layout", "upright") == "nist":  # back to upright, so the figure and the pairing match x
        recon = np.ascontiguousarray(recon.reshape(-1, 32, 32).transpose(0, 2, 1)).reshape(len(x), -1)
    per_image = psnr(x, recon)
    mean = float(per_image.mean())
    print(f"{len(x)} images: mean PSNR {mean:.2f} dB (values clipped to [0, 1]), "
          f"median {np.median(per_image):.2f}, worst {per_image.min():.2f}, best {per_image.max():.2f}")
    # Two images of each of the first five classes present (the homework's figure shows A, B, C, 1, 2).
    picks = [i for c in np.unique(y)[:5] for i in np.flatnonzero(y == c)[:2]]
    out.mkdir(parents=True, exist_ok=True)
    path = plots.reconstructions(x[picks], recon[picks], [CLASSES[y[i]] for i in picks], out / "reconstructions.png")
    print(f"reconstructions in {path}")
    return common.summary("evaluate", n=len(x), psnr=mean)


def load_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """The labelled images --data names: a file, or EMNIST / MNIST from --data-dir (upright already)."""
    if str(args.data) in ("emnist", "mnist"):
        if args.data_dir is None:
            raise EvaluateError(f"--data {args.data} needs --data-dir DIR (the folder holding its files)")
        if str(args.data) == "mnist":
            return load_mnist(args.data_dir, args.subset)
        return load_emnist(args.data_dir, args.emnist_split, args.subset)
    return load_labelled(args.data, args.layout)


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, score the checkpoint, print the summary last; 2 on a file that does not fit."""
    p = argparse.ArgumentParser(prog="evaluate.py", description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path, nargs="+",
                   help="model.npz saved by an example (mlp, convnet, autoencoder); several classifiers "
                        "(e.g. one per --seed) are scored as one model that averages their probabilities")
    p.add_argument("--data", type=Path, required=True,
                   help=".npz with x (N, 1024) and y, or a NIST .mat with {split}_data and {split}_labels "
                        "(labels one-hot or indices); or the word emnist or mnist with --data-dir")
    p.add_argument("--data-dir", type=Path, default=None, help="with --data emnist|mnist: the folder of their files")
    p.add_argument("--emnist-split", default="balanced", help="with --data emnist (default balanced)")
    p.add_argument("--subset", choices=("train", "test"), default="test", help="with --data emnist|mnist")
    p.add_argument("--layout", choices=LAYOUTS, default="nist",
                   help="how each row stores its 32x32 image: nist = column-major, the NIST36 files' and the "
                        "homework's raw layout (default); upright = row-major")
    p.add_argument("--confusion", type=Path, default=None, help="save the confusion matrix to this PNG")
    p.add_argument("--out", type=Path, default=Path("runs") / "evaluate",
                   help="folder for the autoencoder figure (default runs/evaluate)")
    p.add_argument("--top", type=int, default=8, help="how many confused pairs and weakest classes to list")
    p.add_argument("--batch-size", type=int, default=512)
    args = p.parse_args(argv)
    if args.batch_size < 1 or args.top < 1:
        p.error(f"--batch-size and --top must be positive, got {args.batch_size} and {args.top}")
    try:
        members = load_members(args.checkpoint)
        model, meta = members[0]
        try:
            x, y = load_data(args)
        except (LabelledFileError, DatasetFileError, FileNotFoundError) as exc:
            raise EvaluateError(str(exc)) from None
        if len(y) == 0:
            raise EvaluateError(f"{args.data}: holds no images")
        names = ", ".join(str(c) for c in args.checkpoint)
        what = meta["arch"] if len(members) == 1 else f"average of {len(members)} classifiers"
        print(f"model: {what} from {names}; data: {args.data} ({args.layout} layout)")
        if meta["arch"] == "autoencoder":
            if args.confusion is not None:
                print("--confusion ignored: an autoencoder has no classes to confuse")
            line = score_autoencoder(model, meta, x, y, args.out, args.batch_size)
        else:
            line = score_classifier(members, x, y, args.confusion, args.top, args.batch_size)
    except EvaluateError as exc:
        print(f"evaluate.py: error: {exc}", file=sys.stderr)
        return 2
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
