"""What the homework examples share: flags, data loading, per-epoch bookkeeping, evaluation, checkpoints.

The training loops themselves live in each example (mlp_nist36.py, convnet_nist36.py, autoencoder_nist36.py).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
import distributed  # noqa: E402
import tinygrad5 as tg  # noqa: E402
from tinygrad5.data import CLASSES, find_nist36_dir, load_nist36, load_synthetic  # noqa: E402
from tinygrad5.data.emnist import EMNIST_SPLITS, DatasetFileError, carve_valid, load_emnist, load_mnist  # noqa: E402
from tinygrad5.data.transforms import default_augmentation  # noqa: E402

QUICK_PER_CLASS = {"train": 20, "valid": 8, "test": 8}  # --quick: a small subset for smoke tests
DATA_CHOICES = ("synthetic", "nist36", "emnist", "mnist")
AUGMENT_CHOICES = ("none", "light", "medium", "strong")
AUGMENT_HELP = ("training-time augmentation of each batch (tinygrad5.data.transforms.default_augmentation): "
                "per letter, at medium: stroke thickening or thinning, rotation up to 10 degrees, shear up "
                "to 10, scale 0.85-1.1, shifts up to 2 px, an elastic warp, a slight blur, and ink, paper, "
                "contrast and edge-overshoot jitter; light and strong scale these by 0.5 and 1.5, none trains on the "
                "images as they are")


def parse_args(name: str, description: str, epochs: int, batch_size: int, lr: float,
               extra: Callable[[argparse.ArgumentParser], None] | None = None,
               argv: list[str] | None = None, augment: str = "none", augment_note: str = "") -> argparse.Namespace:
    """The common flags (`augment` is the script's default --augment, `augment_note` adds to its help);
    `extra` adds a script's own.

    With --distributed this joins the MPI world (distributed.setup); only rank 0 creates --out.
    """
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0, help="seeds initialisation and batch order")
    p.add_argument("--out", type=Path, default=Path("runs") / name, help="where figures and the checkpoint go")
    p.add_argument("--data", choices=DATA_CHOICES, default="synthetic",
                   help="generated handwriting (default), the real NIST36 .mat files, EMNIST or MNIST (README: "
                        "getting the files)")
    p.add_argument("--data-seed", type=int, default=0,
                   help="which draw of the generated training set (generated data only; valid and test stay "
                        "the same draw)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder holding nist36_{train,valid,test}.mat, EMNIST's or MNIST's files")
    p.add_argument("--emnist-split", choices=EMNIST_SPLITS, default="balanced",
                   help="which EMNIST split with --data emnist (lower-case classes are left out)")
    p.add_argument("--quick", action="store_true", help="a few epochs on a small subset (smoke test)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-jit", action="store_true",
                   help="run every training step eagerly (default: tinygrad5.jit replays the captured step; "
                        "the same numbers)")
    p.add_argument("--augment", choices=AUGMENT_CHOICES, default=augment,
                   help=f"{AUGMENT_HELP}{augment_note} (default: {augment})")
    distributed.add_flag(p)
    if extra:
        extra(p)
    args = p.parse_args(argv)
    if args.quick:
        args.epochs = min(args.epochs, 2)
    if args.data == "nist36" and args.data_dir is None:
        args.data_dir = find_nist36_dir()  # $TINYGRAD5_NIST36, when it holds the files
        if args.data_dir is None:
            p.error("--data nist36 needs --data-dir DIR (the folder with nist36_train.mat, nist36_valid.mat, "
                    "nist36_test.mat) or the TINYGRAD5_NIST36 environment variable")
    if args.data != "synthetic" and args.data_seed != 0:
        p.error(f"--data-seed draws another generated training set; --data {args.data} reads files")
    if args.data in ("emnist", "mnist") and args.data_dir is None:
        p.error(f"--data {args.data} needs --data-dir DIR, the folder with its files (README: getting the files)")
    try:
        distributed.setup(args)
        local_batch = distributed.local_batch(args.batch_size)
    except (ImportError, ValueError) as e:
        p.error(str(e))  # mpi4py missing, or a batch that does not split over the ranks
    if distributed.is_main():
        args.out.mkdir(parents=True, exist_ok=True)
    args.local_batch = local_batch
    return args


def augmentation(strength: str) -> Callable[[np.ndarray, np.random.Generator], np.ndarray] | None:
    """The DataLoader transform for --augment: default_augmentation(strength), or None for "none"."""
    return None if strength == "none" else default_augmentation(strength)


def header(args: argparse.Namespace, splits: dict) -> str:
    """The run's first line: data, split sizes, backend, augmentation and, when distributed, the ranks."""
    world = distributed.rank_and_world()[1]
    ranks = f"; {world} ranks, {args.local_batch} of each batch of {args.batch_size} a rank" if world > 1 else ""
    draw = f" (training draw {args.data_seed})" if getattr(args, "data_seed", 0) else ""
    return (f"data: {args.data}{draw}, train {len(splits['train'][1])} / valid {len(splits['valid'][1])} / "
            f"test {len(splits['test'][1])} images; backend {tg.get_backend()}; augment {args.augment}{ranks}")


def load_splits(args: argparse.Namespace) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """train/valid/test as (x float32 (N, 1024) upright, y int64), generated or real."""
    splits = {}
    if args.data in ("emnist", "mnist"):
        try:
            splits = public_splits(args.data, args.data_dir, getattr(args, "emnist_split", "balanced"))
        except (FileNotFoundError, DatasetFileError, TypeError) as e:
            sys.exit(f"error: {e}")  # the message names the files and where they are published
    for split in ("train", "valid", "test"):
        if args.data != "synthetic":
            x, y = splits[split] if split in splits else load_nist36(args.data_dir, split)
            if args.quick:
                keep = np.random.default_rng(0).permutation(len(y))[:QUICK_PER_CLASS[split] * len(CLASSES)]
                x, y = x[keep], y[keep]
        else:
            x, y = load_synthetic(split, n_per_class=QUICK_PER_CLASS[split] if args.quick else None,
                                  seed=getattr(args, "data_seed", 0) if split == "train" else 0)
        splits[split] = (x, y)
    return splits


def public_splits(data: str, data_dir: Path, emnist_split: str = "balanced",
                  seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """EMNIST's or MNIST's train/valid/test as (x, y) pairs in load_nist36's conventions.

    Neither publishes a validation split: a fixed, seeded sixth of train is held out as one.
    """
    if data == "emnist":
        train, test = (load_emnist(data_dir, emnist_split, s) for s in ("train", "test"))
    else:
        train, test = (load_mnist(data_dir, s) for s in ("train", "test"))
    train, valid = carve_valid(*train, n_valid=max(1, len(train[1]) // 6), seed=seed)
    return {"train": train, "valid": valid, "test": test}


def evaluate(model: tg.nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 512,
             shape: tuple[int, ...] = (-1, 1024)) -> tuple[float, float, np.ndarray]:
    """Mean per-sample cross-entropy, accuracy and predictions, without building a graph."""
    model.eval()
    total, preds = 0.0, []
    with tg.no_grad():
        for i in range(0, len(y), batch_size):
            logits = model(tg.Tensor(x[i:i + batch_size].reshape(shape)))
            total += tg.cross_entropy(logits, y[i:i + batch_size], reduction="sum").item()
            preds.append(logits.data.argmax(axis=1))
    model.train()
    pred = np.concatenate(preds)
    return total / len(y), float((pred == y).mean()), pred


def new_history() -> dict[str, list[float]]:
    """Empty per-epoch history: train/valid loss (per sample) and accuracy, seconds per epoch."""
    return {k: [] for k in ("train_loss", "train_acc", "valid_loss", "valid_acc", "sec")}


def epochs(n: int, label: str, progress: bool) -> tqdm:
    """range(n) behind a progress bar (none with progress=False)."""
    return tqdm(range(n), desc=label, disable=not progress, leave=False)


def end_epoch(hist: dict[str, list[float]], bar: tqdm, model: tg.nn.Module, valid: tuple[np.ndarray, np.ndarray],
              shape: tuple[int, ...], start: float, loss_sum: float, correct: int, seen: int) -> None:
    """Append one epoch to `hist`: its seconds, the train loss and accuracy over all ranks (loss_sum is
    the summed per-sample loss), and the validation figures (evaluated on rank 0 only; nan elsewhere)."""
    hist["sec"].append(time.perf_counter() - start)
    if distributed.rank_and_world()[1] > 1:
        loss_sum, correct, seen = (float(v) for v in distributed.all_sum([loss_sum, correct, seen]))
    vl, va = evaluate(model, *valid, shape=shape)[:2] if distributed.is_main() else (float("nan"),) * 2
    for k, v in zip(hist, (loss_sum / seen, correct / seen, vl, va)):
        hist[k].append(v)
    bar.set_postfix(loss=f"{hist['train_loss'][-1]:.3f}", acc=f"{hist['train_acc'][-1]:.3f}", valid_acc=f"{va:.3f}")


def confusion_matrix(y: np.ndarray, pred: np.ndarray, n: int = len(CLASSES)) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    return cm


def top_confusions(cm: np.ndarray, k: int = 5) -> list[tuple[str, str, int]]:
    """The k most confused unordered pairs of classes, with how often either was taken for the other."""
    sym = cm + cm.T
    iu = np.triu_indices_from(sym, 1)
    order = np.argsort(sym[iu])[::-1][:k]
    return [(CLASSES[iu[0][i]], CLASSES[iu[1][i]], int(sym[iu][i])) for i in order]


def save_model(path: Path, model: tg.nn.Module, arch: str, **meta: object) -> None:
    """Checkpoint: weights plus what a reader needs to rebuild and feed the model."""
    tg.save({"model": model.state_dict(), "meta": {"arch": arch, "classes": CLASSES, "layout": "upright",
                                                   **meta}}, path)


def summary(name: str, **figures: float | int) -> str:
    """The final line in a stable `name: key=value ...` format."""
    parts = [f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()]
    return f"{name}: " + " ".join(parts)
