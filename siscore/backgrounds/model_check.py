"""Optional classifier check: reject a background on which a model sees an object.

Two modes. Without study classes (the default), a background is rejected when
an ImageNet classifier gives any single *object* class more than ``max_prob``:
every class but the scenery of :data:`SCENERY_CLASSES` (landscape, plants, flowers,
crops, fungi: alp, seashore, rapeseed, daisy, agaric, ...), whose photos are what
a background should be. With study classes, only those count: if the model gives
one of the study's foreground classes a high probability on the bare
background (a cat in the grass, a cup on a table), that background would
confound every image the class is pasted on. The model
sees the photo's largest squares (first, centre and last along the long side;
one square for a square photo), each through the model's own transform; the
highest probability over squares counts. A class's probability is the sum of
the softmax over its ImageNet indices (``siscore.formats.labels`` maps labels to them).

Works with any ``torch.nn.Module`` and transform (:class:`ModelCheck`), or
with a model named for ``siscore.evaluate.create_model`` (:func:`load_model_check`:
torchvision, ``timm/``, ``open_clip/`` or the built-in ``efficientnet_lite0``).
torch is imported only when a check runs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from siscore.backgrounds.scan import BadImage, decode
from siscore.backgrounds.thresholds import MODEL_MAX_PROB
from siscore.errors import SiscoreError
from siscore.formats.labels import LabelMapError, load_label_map
from siscore.utils.progress import track

#: Long side the photo is decoded at before its squares go through the model's transform.
MODEL_SIDE = 768

#: ImageNet-1k classes that are scenery, not objects: what a background may look like. An
#: explicit list, reviewed by hand against ImageNet's WordNet hierarchy (the synset of each
#: group is named); classes under WordNet's "food" (edible fruit: strawberry, lemon; the
#: vegetable "mushroom") stay objects, as SI-SCORE pastes such objects.
#: WordNet's "geological formation": alone, the scenery before plants, crops and fungi were
#: added (kept to measure that change).
GEOLOGICAL_FORMATIONS: dict[int, str] = {
    970: "alp", 972: "cliff", 973: "coral reef", 974: "geyser", 975: "lakeside",
    976: "promontory", 977: "sandbar", 978: "seashore", 979: "valley", 980: "volcano"}
SCENERY_GROUPS: dict[str, dict[int, str]] = {
    "landscape (geological formation, n09287968)": GEOLOGICAL_FORMATIONS,
    "plants, flowers and crops (plant n00017222 and its parts)": {
        984: "rapeseed", 985: "daisy", 986: "yellow lady's slipper", 987: "corn", 988: "acorn",
        989: "hip", 990: "buckeye", 998: "ear", 958: "hay"},
    "fungi (fungus n12992868)": {
        991: "coral fungus", 992: "agaric", 993: "gyromitra", 994: "stinkhorn",
        995: "earthstar", 996: "hen-of-the-woods", 997: "bolete"},
    "landscaped ground (ImageNet's maze photos are hedge mazes)": {646: "maze"},
}
SCENERY_CLASSES: dict[int, str] = {i: name for group in SCENERY_GROUPS.values()
                                   for i, name in group.items()}

#: ``classes`` value of :class:`ModelCheck` for the object mode.
OBJECTS = "objects"


class ModelCheckError(SiscoreError, ValueError):
    """The model check cannot run as configured; the message names the option to fix."""


def study_classes(labels: Sequence[str], label_map: str | Path | None = None) -> dict[str, tuple[int, ...]]:
    """Map each study label to its ImageNet-1k indices; unknown or unmapped labels raise."""
    table = load_label_map(label_map)
    out: dict[str, tuple[int, ...]] = {}
    for label in labels:
        if label not in table:
            raise ModelCheckError(
                f"--classes: {label!r} is not in the label map; add a row '{label},<imagenet index>' "
                "to a CSV and pass it with --label-map")
        if not table[label]:
            raise ModelCheckError(f"--classes: {label!r} has no ImageNet-1k class, so no model can see it")
        out[label] = tuple(table[label])
    if not out:
        raise ModelCheckError("--classes: give at least one foreground class")
    return out


def parse_classes(value: str) -> list[str]:
    """``--classes``: comma-separated labels, or a foreground folder (its sub-folder names)."""
    path = Path(value)
    if path.is_dir():
        labels = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not labels:
            raise ModelCheckError(f"--classes {value}: the folder has no class sub-folders")
        return labels
    labels = [v.strip() for v in value.split(",") if v.strip()]
    if not labels:
        raise ModelCheckError("--classes: give comma-separated labels (e.g. 'cat,cup') or a foreground folder")
    return labels


def square_views(image: Image.Image) -> list[Image.Image]:
    """The largest squares of a photo: first, centre and last along its long side."""
    w, h = image.size
    side = min(w, h)
    if w == h:
        return [image]
    span = max(w, h) - side
    offsets = sorted({0, span // 2, span})
    boxes = [(o, 0, o + side, side) if w > h else (0, o, side, o + side) for o in offsets]
    return [image.crop(b) for b in boxes]


def class_probabilities(
    module: Any,
    transform: Callable[[Image.Image], Any],
    images: Sequence[Image.Image],
    classes: Sequence[Sequence[int]],
    *,
    batch_size: int = 16,
    device: str = "cpu",
) -> np.ndarray:
    """``(n_images, n_classes)``: for each class, the summed softmax over its output indices."""
    import torch

    top = max(i for idx in classes for i in idx)
    out = np.zeros((len(images), len(classes)))
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = torch.stack([transform(im) for im in images[start:start + batch_size]]).to(device)
            logits = module(batch)
            if logits.ndim != 2 or logits.shape[1] <= top:
                raise ModelCheckError(
                    f"the model returns {tuple(logits.shape)} outputs; the check needs ImageNet-1k "
                    f"logits (batch x 1000) to read class index {top}")
            probs = torch.softmax(logits.float(), dim=1).cpu().numpy()
            for k, idx in enumerate(classes):
                out[start:start + len(probs), k] = probs[:, list(idx)].sum(axis=1)
    return out


def object_classes(categories: Sequence[str] | None = None,
                   output_classes: Sequence[int] | None = None,
                   scenery: Collection[int] = SCENERY_CLASSES) -> dict[str, tuple[int, ...]]:
    """Every ImageNet-1k class but the ``scenery`` ones (default :data:`SCENERY_CLASSES`),
    as ``{name: (output index,)}``."""
    if categories is None:
        from importlib.resources import files

        text = files("siscore").joinpath("data/imagenet_classes.txt").read_text("utf-8")
        categories = [ln.strip() for ln in text.splitlines() if ln.strip()]
    imagenet = list(output_classes) if output_classes is not None else list(range(len(categories)))
    out: dict[str, tuple[int, ...]] = {}
    for j, c in enumerate(imagenet):
        if int(c) not in scenery:
            name = categories[int(c)]
            out[name if name not in out else f"{name} ({int(c)})"] = (j,)
    return out


class ModelCheck:
    """Scores photos of ``folder`` with ``module``; rejects above ``max_prob`` (see the module).

    ``classes``: study classes ``{label: ImageNet indices}``, or :func:`object_classes`
    (each class on its own) for the object mode.
    """

    def __init__(self, module: Any, transform: Callable[[Image.Image], Any],
                 classes: Mapping[str, Sequence[int]], *, max_prob: float = MODEL_MAX_PROB,
                 name: str = "model", folder: str | Path = ".", batch_size: int = 16,
                 device: str = "cpu", progress: bool = False,
                 output_classes: Sequence[int] | None = None) -> None:
        if not 0.0 < max_prob < 1.0:
            raise ModelCheckError(f"--max-prob {max_prob}: must be between 0 and 1")
        self.module, self.transform = module, transform
        self.labels = list(classes)
        if output_classes is None:  # the 1000 ImageNet outputs in order
            self.indices = [tuple(classes[k]) for k in self.labels]
        else:  # output j is ImageNet class output_classes[j]
            position = {int(c): j for j, c in enumerate(output_classes)}
            self.indices = [tuple(position[i] for i in classes[k] if i in position) for k in self.labels]
            missing = [k for k, idx in zip(self.labels, self.indices) if not idx]
            if missing:
                raise ModelCheckError(f"--classes: the model {name} has no output for {missing}")
        self.max_prob, self.name = max_prob, name
        self.folder, self.batch_size, self.device = Path(folder), batch_size, device
        self.progress = progress

    def probabilities(self, image: Image.Image) -> np.ndarray:
        """Per class: the highest probability over the photo's squares."""
        views = square_views(image)
        probs = class_probabilities(self.module, self.transform, views, self.indices,
                                    batch_size=self.batch_size, device=self.device)
        return probs.max(axis=0)

    def __call__(self, files: Sequence[str]) -> dict[str, tuple[str, float]]:
        out: dict[str, tuple[str, float]] = {}
        iterator: Any = files
        if self.progress:
            iterator = track(files, len(files), f"model {self.name}", "img")
        for name in iterator:
            try:
                rgb, _ = decode(self.folder / name, MODEL_SIDE)
            except BadImage:
                continue  # already reported by the scoring pass
            probs = self.probabilities(Image.fromarray(rgb))
            k = int(np.argmax(probs))
            out[name] = (self.labels[k], float(probs[k]))
        return out


def load_model_check(
    model: str, *, classes: Sequence[str] | None = None, weights: str | None = None,
    checkpoint: str | Path | None = None, label_map: str | Path | None = None,
    max_prob: float = MODEL_MAX_PROB, folder: str | Path = ".", batch_size: int = 16,
    device: str = "auto", progress: bool = False, offline: bool = False,
) -> ModelCheck:
    """A :class:`ModelCheck` for a model of ``siscore.evaluate.create_model``.

    ``classes`` None: the object mode (any ImageNet class but a scenery class);
    otherwise the study classes' labels.
    """
    from siscore.utils.extras import MissingDependencyError, require

    try:
        require("torch", "--model")
        require("torchvision", "--model")
    except MissingDependencyError as exc:
        raise ModelCheckError(f"{exc}, or run without --model") from None
    from siscore.evaluate import create_model, select_device
    table = None
    if classes is not None:
        try:
            table = study_classes(classes, label_map)
        except LabelMapError as exc:
            raise ModelCheckError(f"--label-map: {exc}") from None
    try:
        loaded = create_model(model, weights, checkpoint, offline=offline, progress=progress,
                              random_weights=True)  # refused below, in this command's words
        dev = select_device(device)
    except Exception as exc:  # ModelError and friends: their message names the fix
        raise ModelCheckError(f"--model {model}: {exc}") from None
    if loaded.random_init:
        raise ModelCheckError(
            f"--model {model}: has random weights, which recognise nothing; use a pretrained "
            "model (efficientnet_lite0, resnet50:DEFAULT) or give --weights or --checkpoint")
    if table is None:
        table = object_classes(loaded.categories, loaded.output_classes)
    module = loaded.module.to(dev).eval()
    check = ModelCheck(module, loaded.transform, table, max_prob=max_prob, name=loaded.name,
                       folder=folder, batch_size=batch_size, device=str(dev), progress=progress,
                       output_classes=None if classes is None else loaded.output_classes)
    return check
