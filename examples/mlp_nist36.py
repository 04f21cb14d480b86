"""Homework Q2-Q3: a 1024-64-36 sigmoid MLP on NIST36 (generated look-alike data by default).

    python examples/mlp_nist36.py                 # 100 epochs, batch 32, lr 3e-3, SGD on the summed loss
    python examples/mlp_nist36.py --sweep         # also 10x and 0.1x the rate, lr_sweep.png
    python examples/mlp_nist36.py --data nist36 --data-dir ~/nist36

Writes curves.png, weights_init.png, weights_trained.png, confusion.png, history.json and model.npz
to --out (runs/mlp), and prints a final summary line.
"""
from __future__ import annotations

import json

import numpy as np

import common
import models
import plots

import tinygrad5 as tg


def run(args, lr: float, progress: bool = True, label: str = "mlp") -> tuple[tg.nn.Module, dict, np.ndarray]:
    """Train one MLP at `lr`; returns the model, its history and its initial first-layer weights."""
    tg.manual_seed(args.seed)
    model = models.mlp()
    w0 = model[0].weight.data.copy()
    opt = tg.optim.SGD(model.parameters(), lr=lr)
    hist = common.train_classifier(model, opt, args.splits, args.epochs, args.batch_size, args.seed,
                                   progress=progress, label=f"{label} lr={lr:g}")
    return model, hist, w0


def main(argv: list[str] | None = None) -> None:
    args = common.parse_args("mlp", __doc__.splitlines()[0], epochs=100, batch_size=32, lr=3e-3,
                             extra=lambda p: p.add_argument("--sweep", action="store_true",
                                                            help="also train at 10x and 0.1x the rate"),
                             argv=argv)
    args.splits = common.load_splits(args)
    progress = not args.no_progress
    print(f"data: {args.data}, train {len(args.splits['train'][1])} / valid {len(args.splits['valid'][1])} / "
          f"test {len(args.splits['test'][1])} images; backend {tg.get_backend()}")
    model, hist, w0 = run(args, args.lr, progress)
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
    common.save_model(out / "model.npz", model, "mlp", valid_acc=valid_acc, data=args.data)
    (out / "history.json").write_text(json.dumps(hist))

    if args.sweep:
        hists = {f"lr {args.lr:g} (best)": hist}
        print(f"\n{'learning rate':>14} {'final train acc':>16} {'final valid acc':>16}")
        print(f"{args.lr:>14g} {hist['train_acc'][-1]:>16.4f} {hist['valid_acc'][-1]:>16.4f}")
        for factor in (10.0, 0.1):
            lr = args.lr * factor
            _, h, _ = run(args, lr, progress, label="sweep")
            hists[f"lr {lr:g} ({factor:g}x)"] = h
            print(f"{lr:>14g} {h['train_acc'][-1]:>16.4f} {h['valid_acc'][-1]:>16.4f}")
        plots.lr_sweep(hists, out / "lr_sweep.png")

    print(f"figures and checkpoint in {out}/")
    print(common.summary("mlp", epochs=args.epochs, train_acc=hist["train_acc"][-1], valid_acc=valid_acc,
                         test_acc=test_acc, sec_per_epoch=float(np.median(hist["sec"]))))


if __name__ == "__main__":
    main()
