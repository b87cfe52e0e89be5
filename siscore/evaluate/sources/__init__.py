"""The built-in model sources; importing this package registers them (the registry does so on
its first lookup). Each imports its library (torch, timm, open_clip) only when used.

- :mod:`.torchvision`: the default source, torchvision names and weight enums;
- :mod:`.timm`: ``timm/<arch>[.<tag>]``;
- :mod:`.open_clip`: ``open_clip/<arch>[:<tag>]`` and ``open_clip/hf-hub:<org>/<repo>``;
- :mod:`.lite`: the built-in ``efficientnet_lite0/1/2``.
"""

from siscore.evaluate.sources import lite, open_clip, timm, torchvision

__all__ = ["lite", "open_clip", "timm", "torchvision"]
