"""The homework's three models, built from tinygrad5.nn, and a way to rebuild one from a checkpoint."""
from __future__ import annotations

from pathlib import Path

import tinygrad5 as tg
from tinygrad5 import nn

INPUT_SHAPES = {"mlp": (-1, 1024), "convnet": (-1, 1, 32, 32), "autoencoder": (-1, 1024)}


def _linear(fan_in: int, fan_out: int) -> nn.Linear:
    """A Linear with the homework's init, Xavier-uniform weight and zero bias (torch's default differs)."""
    layer = nn.utils.skip_init(nn.Linear, fan_in, fan_out)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def mlp(hidden: int = 64, classes: int = 36) -> nn.Module:
    """Q2-Q3: 1024 -> 64 sigmoid -> 36 (softmax lives in the loss); Xavier-uniform weights, zero biases."""
    return nn.Sequential(_linear(1024, hidden), nn.Sigmoid(), _linear(hidden, classes))


def convnet(classes: int = 36) -> nn.Module:
    """Q6.1.2: conv5x20 relu pool2 -> conv5x50 relu pool2 -> fc 1250-512 relu -> fc 512-36."""
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), _linear(1250, 512), nn.ReLU(), _linear(512, classes))


def autoencoder() -> nn.Module:
    """Q5: 1024 -> 32 -> 32 -> 32 (ReLU) -> 1024 sigmoid."""
    return nn.Sequential(_linear(1024, 32), nn.ReLU(), _linear(32, 32), nn.ReLU(),
                         _linear(32, 32), nn.ReLU(), _linear(32, 1024), nn.Sigmoid())


BUILDERS = {"mlp": mlp, "convnet": convnet, "autoencoder": autoencoder}


def load_model(path: str | Path) -> tuple[nn.Module, dict]:
    """Rebuild a model saved by common.save_model; returns (model in eval mode, meta)."""
    ckpt = tg.load(path)
    meta = ckpt.get("meta") if isinstance(ckpt, dict) else None
    if not meta or meta.get("arch") not in BUILDERS:
        raise ValueError(f"{path} is not a tinygrad5 example checkpoint (no known 'meta.arch')")
    model = BUILDERS[meta["arch"]]()
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, meta
