"""Homework Q6.1.2: a LeNet-style ConvNet on NIST36 (generated look-alike data by default).

    python examples/convnet_nist36.py            # 30 epochs, batch 32, SGD lr 1e-2 momentum 0.9
    python examples/convnet_nist36.py --optimizer adam --lr 1e-3

Writes curves.png, confusion.png, compare.png (its validation accuracy beside the MLP's, read from
runs/mlp/history.json when present, else an MLP is trained for the same epochs) and model.npz (the
default model of examples/extract_text.py) to --out (runs/convnet).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import common
import models
import plots

import tinygrad5 as tg


def mlp_valid_curve(args) -> list[float]:
    """The MLP's validation accuracy per epoch: from its run when there is one, else trained here."""
    path = args.mlp_history
    if path.exists() and not args.quick:
        return json.loads(path.read_text())["valid_acc"]
    tg.manual_seed(args.seed)
    mlp = models.mlp()
    hist = common.train_classifier(mlp, tg.optim.SGD(mlp.parameters(), lr=3e-3), args.splits, args.epochs,
                                   32, args.seed, progress=not args.no_progress, label="mlp (for compare)")
    return hist["valid_acc"]


def main(argv: list[str] | None = None) -> None:
    def extra(p):
        p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
        p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
        p.add_argument("--mlp-history", type=Path, default=Path("runs/mlp/history.json"))
    args = common.parse_args("convnet", __doc__.splitlines()[0], epochs=30, batch_size=32, lr=1e-2,
                             extra=extra, argv=argv)
    args.splits = common.load_splits(args)
    shape = models.INPUT_SHAPES["convnet"]
    tg.manual_seed(args.seed)
    model = models.convnet()
    if args.optimizer == "adam":
        opt = tg.optim.Adam(model.parameters(), lr=args.lr)
    else:
        opt = tg.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    # mean-reduced loss, unlike the MLP's summed one: it keeps the rate independent of the batch size
    hist = common.train_classifier(model, opt, args.splits, args.epochs, args.batch_size, args.seed, shape=shape,
                                   progress=not args.no_progress, label="convnet", reduction="mean")
    _, valid_acc, pred = common.evaluate(model, *args.splits["valid"], shape=shape)
    _, test_acc, _ = common.evaluate(model, *args.splits["test"], shape=shape)
    cm = common.confusion_matrix(args.splits["valid"][1], pred)
    out = args.out
    plots.curves(hist, out / "curves.png", f"ConvNet, {args.optimizer} lr {args.lr:g}, batch {args.batch_size}")
    plots.confusion(cm, out / "confusion.png", f"ConvNet validation confusion (accuracy {valid_acc:.3f})")
    plots.compare({"ConvNet": hist["valid_acc"], "MLP 1024-64-36": mlp_valid_curve(args)}, out / "compare.png")
    print("most confused pairs (validation):",
          ", ".join(f"{a}/{b} ({n})" for a, b, n in common.top_confusions(cm)))
    common.save_model(out / "model.npz", model, "convnet", valid_acc=valid_acc, data=args.data)
    (out / "history.json").write_text(json.dumps(hist))
    print(f"figures and checkpoint in {out}/")
    print(common.summary("convnet", epochs=args.epochs, train_acc=hist["train_acc"][-1], valid_acc=valid_acc,
                         test_acc=test_acc, sec_per_epoch=float(np.median(hist["sec"]))))



if __name__ == "__main__":
    main()
