"""FLOP counts of the homework models, per sample, for 'effective GFLOP/s' figures.

Counting rules (one multiply-add = 2 FLOPs; only matmul and convolution work is counted):

- Linear in->out, forward: 2·in·out.
- Conv2d C->O with a KH×KW kernel and an OH×OW output, forward: 2·C·KH·KW·O·OH·OW.
- Training, the conventional rule: 3× forward (backward computes the input gradient and the
  weight gradient, each as costly as the forward product).
- Training, the work actually needed ("needed"): the same, except the first layer's input gradient,
  which nobody computes (the input does not require grad): 2× forward for the first layer, 3× for
  the others.  Every contender here (tinygrad5, PyTorch, the hand-written numpy) skips that product,
  so GFLOP/s figures in benchmarks/train.py use this count.

Elementwise work (bias add, activations, pooling, softmax, the optimizer update) is not counted: it
is memory-bound and below 1% of the FLOPs for these models, yet it is where small models spend time.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layer:
    """One matmul-like layer: its forward FLOPs per sample and a name for tables."""

    name: str
    forward: int


def linear(n_in: int, n_out: int) -> Layer:
    """A fully connected layer n_in -> n_out."""
    return Layer(f"linear {n_in}-{n_out}", 2 * n_in * n_out)


def conv2d(c: int, o: int, k: int, oh: int, ow: int) -> Layer:
    """A k×k convolution from c to o channels with an oh×ow output."""
    return Layer(f"conv {c}->{o} {k}x{k} out {oh}x{ow}", 2 * c * k * k * o * oh * ow)


def mlp_layers(hidden: int = 64, classes: int = 36) -> list[Layer]:
    """1024 -> hidden -> classes."""
    return [linear(1024, hidden), linear(hidden, classes)]


def autoencoder_layers() -> list[Layer]:
    """1024 -> 32 -> 32 -> 32 -> 1024."""
    return [linear(1024, 32), linear(32, 32), linear(32, 32), linear(32, 1024)]


def convnet_layers(classes: int = 36) -> list[Layer]:
    """32×32 -> conv5×20 (28×28) -> pool -> conv5×50 (10×10) -> pool -> fc 1250-512 -> fc 512-classes."""
    return [conv2d(1, 20, 5, 28, 28), conv2d(20, 50, 5, 10, 10), linear(1250, 512), linear(512, classes)]


LAYERS = {"mlp": mlp_layers, "autoencoder": autoencoder_layers, "convnet": convnet_layers}


def forward_flops(layers: list[Layer]) -> int:
    """Forward FLOPs per sample."""
    return sum(layer.forward for layer in layers)


def train_flops_3x(layers: list[Layer]) -> int:
    """Forward + backward per sample by the 3×-forward rule."""
    return 3 * forward_flops(layers)


def train_flops_needed(layers: list[Layer]) -> int:
    """Forward + backward per sample without the first layer's (unneeded) input gradient."""
    return train_flops_3x(layers) - layers[0].forward


def per_sample(model: str) -> dict[str, int]:
    """{'forward', 'train_3x', 'train_needed'} FLOPs per sample of a model named in LAYERS."""
    layers = LAYERS[model]()
    return {"forward": forward_flops(layers), "train_3x": train_flops_3x(layers),
            "train_needed": train_flops_needed(layers)}


def table(n_samples: int = 10_800) -> str:
    """A markdown table of the counts, per sample and per epoch of n_samples."""
    rows = ["| model | forward MFLOP/sample | train (3×) MFLOP/sample | train (needed) MFLOP/sample | "
            f"needed GFLOP/epoch ({n_samples} samples) |", "|---|---:|---:|---:|---:|"]
    for name in LAYERS:
        f = per_sample(name)
        rows.append(f"| {name} | {f['forward'] / 1e6:.3f} | {f['train_3x'] / 1e6:.3f} | "
                    f"{f['train_needed'] / 1e6:.3f} | {f['train_needed'] * n_samples / 1e9:.1f} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
