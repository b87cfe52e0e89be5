"""The zero-shot classifier module of the open_clip source (imports torch: loaded lazily)."""

from __future__ import annotations

from typing import Any

from torch import nn


class ZeroShotClassifier(nn.Module):
    """Image encoder plus a fixed text head: logits = 100 * cos(image, class embedding)."""

    def __init__(self, clip: nn.Module, head: Any) -> None:
        super().__init__()
        self.clip = clip
        self.register_buffer("head", head.detach().clone())  # (dim, 1000)

    def forward(self, images: Any) -> Any:
        features = self.clip.encode_image(images, normalize=True)
        return 100.0 * features @ self.head.to(features.dtype)
