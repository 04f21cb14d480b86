"""Homework Q2-Q3: a 1024-64-36 sigmoid MLP on NIST36 (generated look-alike data by default).

    python examples/mlp_nist36.py                 # 100 epochs, batch 32, lr 3e-3, SGD on the summed loss
    python examples/mlp_nist36.py --sweep         # also 10x and 0.1x the rate, lr_sweep.png
    python examples/mlp_nist36.py --data nist36 --data-dir ~/nist36
    python examples/mlp_nist36.py --augment none  # the homework's data as they are (default: medium)
    mpiexec -n 2 python examples/mlp_nist36.py --distributed   # data-parallel, the same global batch of 32

Writes curves.png, weights_init.png, weights_trained.png, confusion.png, history.json and model.npz
to --out (runs/mlp), and prints a final summary line.
"""
from __future__ import annotations

import json
import time

import numpy as np

import common
import distributed
import models
import plots

import tinygrad5 as tg

AUGMENT = "medium"  # the default of --augment (training-time augmentation, common.AUGMENT_HELP)


def train(model: tg.nn.Module, optimizer: tg.optim.Optimizer, splits: dict, epochs: int, batch_size: int,
          seed: int, augment: str = "none", progress: bool = True, label: str = "mlp",
          jit: bool = True, label_smoothing: float = 0.0) -> dict[str, list[float]]:
    """The homework's loop: per epoch a fresh random partition into batches, SGD on each batch's summed loss.

    Under --distributed each rank takes its share of every batch of `batch_size`. Returns per-epoch
    train/valid loss (per sample) and accuracy, and seconds per epoch. `jit`: replay the captured step.
    """
    x, y = splits["train"]
    loader = distributed.loader(x, y, batch_size=batch_size, seed=seed, transform=common.augmentation(augment))
    grad_scale = distributed.loss_scale("sum")  # 1, or the world size: DDP averages, a summed loss adds up
    hist = common.new_history()
    bar = common.epochs(epochs, label, progress)

    def train_step(xb: tg.Tensor, yb: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
        logits = model(xb)
        loss = tg.cross_entropy(logits, yb, reduction="sum", label_smoothing=label_smoothing)
        optimizer.zero_grad()
        (loss if grad_scale == 1 else loss * grad_scale).backward()
        optimizer.step()
        return loss, logits
    # tinygrad5.jit replays the captured step with the same numbers; two captures: the full batches and an
    # epoch's last, smaller one. DDP's gradient hooks are not captured: eager under --distributed.
    step = tg.jit(train_step, captures=2) if jit and distributed.rank_and_world()[1] == 1 else train_step
    for _ in bar:
        start, loss_sum, correct, seen = time.perf_counter(), 0.0, 0, 0
        for xb, yb in loader:
            loss, logits = step(xb, yb)
            loss_sum += loss.item()
            correct += int((logits.data.argmax(axis=1) == yb.data).sum())
            seen += len(yb)
        common.end_epoch(hist, bar, distributed.unwrap(model), splits["valid"], models.INPUT_SHAPES["mlp"], start,
                         loss_sum, correct, seen)
    return hist


def run(args, lr: float, progress: bool = True, label: str = "mlp") -> tuple[tg.nn.Module, dict, np.ndarray]:
    """Train one MLP at `lr`; returns the (unwrapped) model, its history and its initial first-layer weights."""
    tg.manual_seed(args.seed)
    model = distributed.wrap(models.mlp())
    w0 = distributed.unwrap(model)[0].weight.data.copy()
    opt = tg.optim.SGD(model.parameters(), lr=lr)
    hist = train(model, opt, args.splits, args.epochs, args.batch_size, args.seed, args.augment, progress,
                 label=f"{label} lr={lr:g}", jit=not args.no_jit, label_smoothing=args.label_smoothing)
    return distributed.unwrap(model), hist, w0


def main(argv: list[str] | None = None) -> None:
    def extra(p):
        p.add_argument("--sweep", action="store_true", help="also train at 10x and 0.1x the rate")
        # not the homework's loss, so off by default; 0.1 read 77.6% of the real dev set's tuning half
        # against 75.4% without (means of 3 seeds, generated data, medium augmentation)
        p.add_argument("--label-smoothing", type=float, default=0.0,
                       help="mix the targets with the uniform distribution (default 0: the homework's loss)")
    args = common.parse_args("mlp", __doc__.splitlines()[0], epochs=100, batch_size=32, lr=3e-3,
                             extra=extra,
                             argv=argv, augment=AUGMENT)
    args.splits = common.load_splits(args)
    progress = not args.no_progress
    if distributed.is_main():
        print(common.header(args, args.splits))
    model, hist, w0 = run(args, args.lr, progress)
    sweep = {}
    if args.sweep:  # trained here, before reporting, as every rank takes part in training
        for factor in (10.0, 0.1):
            sweep[factor] = run(args, args.lr * factor, progress, label="sweep")[1]
    if not distributed.is_main():
        return  # rank 0 alone logs, plots and saves
    for e in sorted({0, len(hist['sec']) // 2, len(hist['sec']) - 1}):
        print(f"epoch {e + 1:3d}: train loss {hist['train_loss'][e]:.4f} acc {hist['train_acc'][e]:.4f} | "
              f"valid loss {hist['valid_loss'][e]:.4f} acc {hist['valid_acc'][e]:.4f}")

    out = args.out
    plots.curves(hist, out / "curves.png", f"MLP 1024-64-36, lr {args.lr:g}, batch {args.batch_size}")
    plots.weight_grid(w0, out / "weights_init.png", "first-layer weights at initialisation")
    plots.weight_grid(model[0].weight.data, out / "weights_trained.png", "first-layer weights after training")
    _, test_acc, test_pred = common.evaluate(model, *args.splits["test"])
    _, valid_acc, valid_pred = common.evaluate(model, *args.splits["valid"])
    cm = common.confusion_matrix(args.splits["valid"][1], valid_pred)
    plots.confusion(cm, out / "confusion.png", f"MLP validation confusion (accuracy {valid_acc:.3f})")
    print("most confused pairs (validation):",
          ", ".join(f"{a}/{b} ({n})" for a, b, n in common.top_confusions(cm)))
    common.save_model(out / "model.npz", model, "mlp", valid_acc=valid_acc, data=args.data,
                      augment=args.augment)
    (out / "history.json").write_text(json.dumps(hist))

    if args.sweep:
        hists = {f"lr {args.lr:g} (best)": hist}
        print(f"\n{'learning rate':>14} {'final train acc':>16} {'final valid acc':>16}")
        print(f"{args.lr:>14g} {hist['train_acc'][-1]:>16.4f} {hist['valid_acc'][-1]:>16.4f}")
        for factor, h in sweep.items():
            lr = args.lr * factor
            hists[f"lr {lr:g} ({factor:g}x)"] = h
            print(f"{lr:>14g} {h['train_acc'][-1]:>16.4f} {h['valid_acc'][-1]:>16.4f}")
        plots.lr_sweep(hists, out / "lr_sweep.png")

    print(f"figures and checkpoint in {out}/")
    print(common.summary("mlp", epochs=args.epochs, train_acc=hist["train_acc"][-1], valid_acc=valid_acc,
                         test_acc=test_acc, sec_per_epoch=float(np.median(hist["sec"]))))


if __name__ == "__main__":
    main()
