"""A tiny seeded classifier over the 1000 ImageNet classes, and its image transform, for
tests that need real torch inference but not a real model."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(3 * 4 * 4, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(nn.functional.adaptive_avg_pool2d(x, 4).flatten(1))


def to_tensor(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img, dtype="float32")).permute(2, 0, 1) / 255
