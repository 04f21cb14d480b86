"""Reusable glue of the text-extraction example (homework Q4): read a photo, classify its letters.

    model, meta, path = get_model(None, "convnet")      # cached checkpoint, or trained on first use
    result = read_page(read_image("photo.jpg"), model, meta)
    print(result.text)

Also the measures used by eval_pages.py: edit distance, character accuracy and IoU box matching.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import common  # noqa: F401  (puts the checkout on sys.path before tinygrad5 is imported)
import convnet_nist36
import models

import tinygrad5 as tg
from tinygrad5.data import CLASSES, load_synthetic
from tinygrad5.data.cache import default_cache_dir
from tinygrad5.vision import crop_letters, find_letters, group_lines, page_text
from tinygrad5.vision.lines import Line

ARCHS = ("convnet", "mlp")
# Auto-training recipes for a first run. The ConvNet's is convnet_nist36.py's default (SGD lr 1e-2 momentum
# 0.9, 30 epochs, strong augmentation, label smoothing 0.1, the last 10 epochs' weights averaged):
# on real NIST letters SGD read ~89% of the dev set's tuning half where Adam 1e-3 for 8 epochs read 85% and for
# 15 epochs 87% (same generated data and augmentation, no smoothing); convnet_nist36.py has the rest.
# The MLP's (Adam 1e-3, 30 epochs, medium augmentation) is a quick second model for comparisons.
RECIPES = {"convnet": {"optimizer": "sgd", "epochs": 30, "lr": 1e-2, "batch_size": 32, "augment": "strong",
                       "label_smoothing": convnet_nist36.LABEL_SMOOTHING, "swa_epochs": convnet_nist36.SWA_EPOCHS,
                       "mixup": convnet_nist36.MIXUP},
           "mlp": {"optimizer": "adam", "epochs": 30, "lr": 1e-3, "batch_size": 32, "augment": "medium",
                   "label_smoothing": 0.0, "swa_epochs": 0, "mixup": 0.0}}


# ----------------------------------------------------------------------------- checkpoints

def cached_checkpoint(arch: str, runs_dir: Path = Path("runs")) -> Path:
    """Where the default model of `arch` lives: runs/{arch}/model.npz if present, else the user cache.

    The cache is $TINYGRAD5_CACHE/models/{arch}.npz (default ~/.cache/tinygrad5/models/{arch}.npz);
    the returned path may not exist yet.
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {ARCHS}")
    run = Path(runs_dir) / arch / "model.npz"
    if run.is_file():
        return run
    return default_cache_dir() / "models" / f"{arch}.npz"


def train_model(arch: str, path: Path, epochs: int | None = None, n_per_class: int | None = None,
                progress: bool = True, seed: int = 0, splits: dict | None = None,
                data: str = "synthetic", augment: str | None = None) -> tuple[tg.nn.Module, dict]:
    """Train `arch` on the generated train split (or `n_per_class` of it), save it to `path`, return it.

    `splits` ({"train": (x, y), "valid": (x, y)}, e.g. EMNIST's) replaces the generated data; `data` names it.
    `augment` (default: the recipe's) is a strength of tinygrad5.data.transforms.default_augmentation, or "none".

    Returns (model in eval mode, meta) like models.load_model, with seconds spent in meta["train_sec"].
    """
    recipe = RECIPES[arch]
    epochs = recipe["epochs"] if epochs is None else epochs
    augment = recipe["augment"] if augment is None else augment
    start = time.perf_counter()
    small = {"train": n_per_class, "valid": None if n_per_class is None else max(2, n_per_class // 3)}
    if splits is None:
        splits = {s: load_synthetic(s, n_per_class=n) for s, n in small.items()}
    tg.manual_seed(seed)
    model = models.BUILDERS[arch]()
    if recipe["optimizer"] == "sgd":
        opt = tg.optim.SGD(model.parameters(), lr=recipe["lr"], momentum=0.9)
    else:
        opt = tg.optim.Adam(model.parameters(), lr=recipe["lr"])
    # the ConvNet example's loop (a mean loss), which trains the MLP as well
    hist = convnet_nist36.train(model, opt, splits, epochs, recipe["batch_size"], seed, models.INPUT_SHAPES[arch],
                                augment, progress=progress, label=f"training {arch} (first use)",
                                label_smoothing=recipe["label_smoothing"], swa_epochs=recipe["swa_epochs"],
                                mixup=recipe["mixup"])
    seconds = time.perf_counter() - start
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    common.save_model(path, model, arch, valid_acc=hist["valid_acc"][-1], data=data, epochs=epochs,
                      train_sec=seconds, augment=augment)
    model.eval()
    return models.load_model(path)


def get_model(model_path: str | Path | None, arch: str = "convnet", progress: bool = True,
              epochs: int | None = None, log=print, data: str = "synthetic",
              load_data=None) -> tuple[tg.nn.Module, dict, Path]:
    """The model to read with: `model_path` if given, else the cached one, trained and cached on first use.

    With `data` other than "synthetic" (e.g. "emnist-balanced") the cache is {arch}-{data}.npz and a first
    model is trained on `load_data()`'s {"train", "valid"} splits.
    """
    if model_path is not None:
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"no such checkpoint: {path}")
        model, meta = models.load_model(path)
        return model, meta, path
    if data == "synthetic":
        path = cached_checkpoint(arch)
    else:
        path = default_cache_dir() / "models" / f"{arch}-{data}.npz"
    if path.is_file():
        model, meta = models.load_model(path)
        return model, meta, path
    what = "generated handwriting" if data == "synthetic" else data
    log(f"no {arch} checkpoint yet: training one on {what}, saving it to {path}")
    splits = None if data == "synthetic" else load_data()
    model, meta = train_model(arch, path, epochs=epochs, progress=progress, splits=splits, data=data)
    log(f"trained in {meta['train_sec']:.0f} s (validation accuracy {meta['valid_acc']:.3f})")
    return model, meta, path


# ----------------------------------------------------------------------------- reading a page

def classify(model: tg.nn.Module, meta: dict, cells: np.ndarray, batch_size: int = 256) -> tuple[list[str], np.ndarray]:
    """Characters and softmax confidences for K×32×32 upright cells (ink 0, paper 1)."""
    cells = np.asarray(cells, dtype=np.float32)
    if cells.ndim != 3 or cells.shape[1:] != (32, 32):
        raise ValueError(f"classify expects K×32×32 cells, got shape {cells.shape}")
    classes = meta.get("classes", CLASSES)
    if len(cells) == 0:
        return [], np.zeros(0, np.float32)
    # A model trained on NIST rows as stored (column-major) sees each cell transposed.
    if meta.get("layout", "upright") == "nist":
        cells = cells.transpose(0, 2, 1)
    shape = models.INPUT_SHAPES[meta["arch"]]
    x = np.ascontiguousarray(cells).reshape((len(cells),) + shape[1:])
    model.eval()
    probs = []
    with tg.no_grad():
        for i in range(0, len(x), batch_size):
            probs.append(tg.softmax(model(tg.Tensor(x[i:i + batch_size])), dim=1).data)
    p = np.concatenate(probs)
    idx = p.argmax(axis=1)
    return [classes[i] for i in idx], p[np.arange(len(idx)), idx]


@dataclass
class PageResult:
    """What read_page found: boxes (K×4), their characters and confidences, lines, the text."""

    boxes: np.ndarray
    chars: list[str]
    confidence: np.ndarray
    lines: list[Line]
    cells: np.ndarray

    @property
    def text(self) -> str:
        """The page's text, one line per text line, with word spaces."""
        return page_text(self.lines, self.chars)


def read_page(image: np.ndarray, model: tg.nn.Module, meta: dict) -> PageResult:
    """Find, order, crop and classify the characters of an H×W×3 photo."""
    boxes, bw = find_letters(image)
    cells = crop_letters(bw, boxes)
    chars, conf = classify(model, meta, cells)
    return PageResult(boxes, chars, conf, group_lines(boxes), cells)


# ----------------------------------------------------------------------------- measures

def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: fewest insertions, deletions and substitutions turning a into b."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def strip_text(text: str, drop: str = "") -> str:
    """The text with all whitespace (spaces, line breaks) and the characters in `drop` removed."""
    return "".join(c for c in text if not c.isspace() and c not in drop)


def char_accuracy(pred: str, truth: str) -> tuple[float, int, int]:
    """(1 − edit distance / len(truth), edit distance, len(truth)) over the texts without whitespace.

    The accuracy is floored at 0 (many spurious characters cannot make it negative); an empty
    truth scores 1 only when the prediction is empty too.
    """
    p, t = strip_text(pred), strip_text(truth)
    d = edit_distance(p, t)
    if not t:
        return (1.0 if not p else 0.0), d, 0
    return max(0.0, 1.0 - d / len(t)), d, len(t)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (len(a) × len(b)) of [y1, x1, y2, x2] boxes with exclusive y2, x2."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    y1 = np.maximum(a[:, None, 0], b[None, :, 0])
    x1 = np.maximum(a[:, None, 1], b[None, :, 1])
    y2 = np.minimum(a[:, None, 2], b[None, :, 2])
    x2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(y2 - y1, 0, None) * np.clip(x2 - x1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


@dataclass
class Matching:
    """One-to-one matching of found boxes to true boxes at an IoU threshold."""

    pairs: list[tuple[int, int]]   # (found index, true index)
    n_found: int
    n_true: int

    @property
    def recall(self) -> float:
        """Share of true boxes matched (1 when there are none)."""
        return len(self.pairs) / self.n_true if self.n_true else 1.0

    @property
    def precision(self) -> float:
        """Share of found boxes matched (1 when none were found)."""
        return len(self.pairs) / self.n_found if self.n_found else 1.0


def match_boxes(found: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> Matching:
    """Hungarian matching maximising total IoU; only pairs with IoU ≥ threshold count."""
    from scipy.optimize import linear_sum_assignment

    iou = box_iou(found, truth)
    if iou.size == 0:
        return Matching([], iou.shape[0], iou.shape[1])
    # Pairs below the threshold are worth nothing, so they never displace a real match.
    gain = np.where(iou >= threshold, iou, 0.0)
    rows, cols = linear_sum_assignment(gain, maximize=True)
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= threshold]
    return Matching(pairs, iou.shape[0], iou.shape[1])
