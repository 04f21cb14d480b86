"""Homework Q5: a 1024-32-32-32-1024 autoencoder on NIST36 (generated look-alike data by default).

    python examples/autoencoder_nist36.py        # 200 epochs, batch 12, lr 1e-5, momentum 0.9, lr x0.9 / 20 epochs
    python examples/autoencoder_nist36.py --batch-size 36 --lr 3e-5 --epochs 100   # the homework's own settings
    python examples/autoencoder_nist36.py --augment none    # the data as they are (default: light, each its own target)
    mpiexec -n 2 python examples/autoencoder_nist36.py --distributed   # data-parallel, the same global batch

Writes loss.png, reconstructions.png (classes A, B, C, 1, 2: two validation images each beside their
reconstructions) and model.npz to --out (runs/autoencoder), and prints the mean validation PSNR.
"""
from __future__ import annotations

import time

import numpy as np
from tqdm import tqdm

import common
import distributed
import models
import plots

import tinygrad5 as tg
from tinygrad5.data import CLASSES

AUGMENT = "light"  # the default of --augment (training-time augmentation, common.AUGMENT_HELP)


def psnr(x: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """Per-image PSNR in dB, pixel values clipped to [0, 1], data range 1."""
    mse = ((np.clip(x, 0, 1) - np.clip(recon, 0, 1)) ** 2).mean(axis=1)
    return 10 * np.log10(1.0 / np.maximum(mse, 1e-12))


@tg.no_grad()
def reconstruct(model: tg.nn.Module, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """Run the autoencoder over x in batches."""
    return np.concatenate([model(tg.Tensor(x[i:i + batch])).data for i in range(0, len(x), batch)])


def main(argv: list[str] | None = None) -> None:
    # The homework's rate per image (3e-5 per batch of 36) on batches of 12, for twice its epochs: six times its
    # updates. Trained on generated letters, real ones (dev set's tuning half) read 15.15 / 14.31 / 14.85 dB for
    # seeds 0 / 1 / 2 (mean 14.77) against 14.34 / 14.59 / 14.72 (mean 14.55) with the homework's settings;
    # seed 0, 14.61 with its batch for 200 epochs and 14.77 with batch 12 for 100; a larger rate per image did
    # worse (5e-5: 13.0; 1e-4 with gradient clipping: 12.8), as did Adam (13.5).
    args = common.parse_args("autoencoder", __doc__.splitlines()[0], epochs=200, batch_size=12, lr=1e-5,
                             extra=lambda p: p.add_argument("--momentum", type=float, default=0.9), argv=argv,
                             augment=AUGMENT, augment_note="; the augmented image is both input and target")
    splits = common.load_splits(args)
    if distributed.is_main():
        print(common.header(args, splits))
    x, _ = splits["train"]
    tg.manual_seed(args.seed)
    model = distributed.wrap(models.autoencoder())
    opt = tg.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    sched = tg.optim.lr_scheduler.StepLR(opt, step_size=20, gamma=0.9)
    # an augmented batch is both the input and the target: the model learns to reproduce what it sees
    loader = distributed.loader(x, batch_size=args.batch_size, seed=args.seed,
                                transform=common.augmentation(args.augment))
    grad_scale = distributed.loss_scale("sum")  # 1, or the world size: DDP averages, a summed loss adds up
    losses, secs = [], []

    def train_step(xb: tg.Tensor) -> tg.Tensor:
        # the homework's summed squared error, against the image clipped to [0, 1]: a sigmoid cannot reach
        # the overshoot of NIST's resampled edges, and PSNR is measured on [0, 1]
        loss = tg.mse_loss(model(xb), xb.clip(0.0, 1.0), reduction="sum")
        opt.zero_grad()
        (loss if grad_scale == 1 else loss * grad_scale).backward()
        opt.step()
        return loss
    # tinygrad5.jit replays the captured step with the same numbers; two captures: the full batches and an
    # epoch's last, smaller one. DDP's gradient hooks are not captured: eager under --distributed.
    use_jit = not args.no_jit and distributed.rank_and_world()[1] == 1
    step = tg.jit(train_step, captures=2) if use_jit else train_step
    for _ in tqdm(range(args.epochs), desc="autoencoder", disable=args.no_progress, leave=False):
        start, total, seen = time.perf_counter(), 0.0, 0
        for (xb,) in loader:
            loss = step(xb)
            total += loss.item()
            seen += len(xb)
        sched.step()
        secs.append(time.perf_counter() - start)
        if distributed.rank_and_world()[1] > 1:
            total, seen = (float(v) for v in distributed.all_sum([total, seen]))
        losses.append(total / seen)
    if not distributed.is_main():
        return  # rank 0 alone logs, plots and saves
    model = distributed.unwrap(model)

    xv, yv = splits["valid"]
    recon = reconstruct(model, xv)
    valid_psnr = float(psnr(xv, recon).mean())
    picks = [i for c in "ABC12" for i in np.flatnonzero(yv == CLASSES.index(c))[:2]]
    plots.loss_curve(losses, args.out / "loss.png", "autoencoder training loss (summed squared error per image)")
    plots.reconstructions(xv[picks], recon[picks], [CLASSES[yv[i]] for i in picks], args.out / "reconstructions.png")
    common.save_model(args.out / "model.npz", model, "autoencoder", valid_psnr=valid_psnr, augment=args.augment)
    print(f"mean validation PSNR: {valid_psnr:.2f} dB (the homework reports 13.5 dB on real NIST36)")
    print(f"figures and checkpoint in {args.out}/")
    print(common.summary("autoencoder", epochs=args.epochs, train_loss=losses[-1], valid_psnr=valid_psnr,
                         sec_per_epoch=float(np.median(secs))))


if __name__ == "__main__":
    main()
