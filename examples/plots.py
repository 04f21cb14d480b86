"""The figures a student hands in: curves, weight grids, confusion matrices, reconstructions."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tinygrad5.data import CLASSES  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def curves(hist: dict, path: Path, title: str) -> Path:
    """Loss (per sample) and accuracy per epoch, train vs valid."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    ep = np.arange(1, len(hist["train_loss"]) + 1)
    for ax, key, name in ((a, "loss", "loss per sample"), (b, "acc", "accuracy")):
        ax.plot(ep, hist[f"train_{key}"], label="train")
        ax.plot(ep, hist[f"valid_{key}"], label="valid")
        ax.set_xlabel("epoch"), ax.set_ylabel(name), ax.legend(), ax.grid(alpha=0.3)
    fig.suptitle(title)
    return _save(fig, path)


def lr_sweep(hists: dict[str, dict], path: Path) -> Path:
    """Validation loss and accuracy for each learning rate."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for label, h in hists.items():
        ep = np.arange(1, len(h["valid_loss"]) + 1)
        a.plot(ep, h["train_loss"], "--", alpha=0.6, label=f"{label} train")
        a.plot(ep, h["valid_loss"], label=f"{label} valid")
        b.plot(ep, h["train_acc"], "--", alpha=0.6, label=f"{label} train")
        b.plot(ep, h["valid_acc"], label=f"{label} valid")
    for ax, name in ((a, "loss per sample"), (b, "accuracy")):
        ax.set_xlabel("epoch"), ax.set_ylabel(name), ax.legend(fontsize=7), ax.grid(alpha=0.3)
    return _save(fig, path)


def weight_grid(w: np.ndarray, path: Path, title: str) -> Path:
    """First-layer weights as an 8x8 grid of upright 32x32 images (w: (64, 1024), one row per unit)."""
    n = int(np.ceil(np.sqrt(len(w))))
    fig, axes = plt.subplots(n, n, figsize=(8, 8))
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(w):
            ax.imshow(w[i].reshape(32, 32), cmap="gray")
    fig.suptitle(title)
    return _save(fig, path)


def confusion(cm: np.ndarray, path: Path, title: str) -> Path:
    """36x36 confusion matrix labelled A-Z 0-9."""
    fig, ax = plt.subplots(figsize=(9, 8))
    im = ax.imshow(cm, cmap="viridis")
    ax.set_xticks(range(len(CLASSES)), list(CLASSES), fontsize=7)
    ax.set_yticks(range(len(CLASSES)), list(CLASSES), fontsize=7)
    ax.set_xlabel("predicted"), ax.set_ylabel("true"), ax.set_title(title)
    fig.colorbar(im, ax=ax)
    return _save(fig, path)


def compare(curves_by_name: dict[str, Sequence[float]], path: Path, ylabel: str = "validation accuracy") -> Path:
    """One line per model over epochs."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, ys in curves_by_name.items():
        ax.plot(np.arange(1, len(ys) + 1), ys, label=name)
    ax.set_xlabel("epoch"), ax.set_ylabel(ylabel), ax.legend(), ax.grid(alpha=0.3)
    return _save(fig, path)


def loss_curve(losses: Sequence[float], path: Path, title: str) -> Path:
    """Training loss per epoch."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.arange(1, len(losses) + 1), losses)
    ax.set_xlabel("epoch"), ax.set_ylabel("loss per sample"), ax.set_title(title), ax.grid(alpha=0.3)
    return _save(fig, path)


def reconstructions(originals: np.ndarray, recons: np.ndarray, labels: Sequence[str], path: Path) -> Path:
    """Pairs of (original, reconstruction) images, one row per pair."""
    fig, axes = plt.subplots(len(originals), 2, figsize=(3, 1.5 * len(originals)))
    for i, (o, r) in enumerate(zip(originals, recons)):
        for ax, img, name in ((axes[i, 0], o, "original"), (axes[i, 1], r, "reconstruction")):
            ax.imshow(img.reshape(32, 32), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=8)
        axes[i, 0].set_ylabel(labels[i])
    return _save(fig, path)
