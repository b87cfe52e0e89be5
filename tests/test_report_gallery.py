"""Issue 22: the images behind the numbers. Per model an HTML gallery of its worst and best
cells (and, against a baseline, of the cells where two models differ most), with the true
label, the model's top-5 and whether it was right; thumbnails in the report folder, from
the dataset's files or rendered again for an on-the-fly dataset; checked in a real
headless Chromium (Debian's package; skipped when it is absent)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from siscore.evaluate import evaluate
from siscore.evaluate.data import RenderedDataset
from siscore.formats.labels import imagenet_classes
from siscore.generate.assets import embedded_assets
from siscore.generate.build import build
from siscore.generate.factors import Grid
from siscore.report import write_report
from siscore.report.gallery_html import THUMB_PX, thumbnail
from siscore.report.scores import ReportError
from siscore.report.writer import Images
from siscore.score import score_predictions
from tests.tiny_model import TinyNet, to_tensor

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (Debian: apt-get install -y chromium)")


def grid() -> Grid:
    return Grid(area=[0.2, 0.4], rotation=[0, 180], resolution=[(128, 128)])


def designed_predictions(md: pd.DataFrame, label_map: pd.DataFrame) -> pd.DataFrame:
    """model-b: right (top-1 = the label's ImageNet index) on every upright image, wrong
    (top-1 'tench', the right index nowhere in its top-5) on every upside-down one."""
    index = {r.label: int(str(r.imagenet_index).split()[0]) for r in label_map.itertuples()}
    classes = pd.read_csv(md.attrs["classes"]).sort_values("int")["label"].tolist()
    truth = np.array([index[classes[c]] for c in md["foreground_class"]])
    upright = md["rotation"].to_numpy() == 0
    top5 = [(f"{t} 1 2 3 4" if up else "0 1 2 3 4") for t, up in zip(truth, upright,
                                                                      strict=True)]
    return pd.DataFrame({"image_id": md["image_id"], "top1": np.where(upright, truth, 0),
                         "top5": top5, "model": "model-b"})


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict[str, Path]:
    """model-a: a tiny real network evaluated on the fly; model-b: designed answers; both
    scored against model-b, and the same grid built to files."""
    tmp = tmp_path_factory.mktemp("gallery")
    ds = RenderedDataset.from_grid(grid(), bgs_per_fg=2)
    evaluate(TinyNet(), to_tensor, ds, tmp / "a.csv", name="model-a", device="cpu",
             progress=False)
    folder = tmp / "a.csv.dataset"
    md = pd.read_csv(folder / "metadata.csv")
    md.attrs["classes"] = folder / "foreground_classes_metadata_indices.csv"
    designed_predictions(md, pd.read_csv(folder / "label_map.csv")).to_csv(tmp / "b.csv",
                                                                        index=False)
    result = score_predictions(folder, [tmp / "a.csv", tmp / "b.csv"], baseline="model-b",
                               n_boot=100)
    result.write(tmp / "scores.csv")
    built = tmp / "built"
    build(grid(), built, seed=0, bgs_per_fg=2, jobs=1, progress=False)
    return {"tmp": tmp, "scores": tmp / "scores.csv", "a": tmp / "a.csv", "b": tmp / "b.csv",
            "built": built}


@pytest.fixture(scope="module")
def report(run) -> Path:
    out = run["tmp"] / "report"
    write_report(run["scores"], out, formats="png", dpi=60,
                 images=Images(predictions=[run["a"], run["b"]]))
    return out


def test_each_model_gets_a_gallery_linked_from_its_heatmap(report) -> None:
    names = sorted(p.name for p in report.glob("*.html"))
    assert names == ["index.html", "scores-gallery-model-a-vs-model-b.html",
                     "scores-gallery-model-a.html", "scores-gallery-model-b.html"]
    index = (report / "index.html").read_text()
    figure = index[index.index('<figure id="scores-area-rotation"'):]
    figure = figure[:figure.index("</figure>")]
    assert "The images behind the cells:" in figure
    for page in names[1:]:
        assert f'href="./{page}"' in figure


def test_the_worst_and_best_cells_show_their_images_and_answers(report) -> None:
    page = (report / "scores-gallery-model-b.html").read_text()
    worst = page[page.index("<h2>Worst cells</h2>"):page.index("<h2>Best cells</h2>")]
    best = page[page.index("<h2>Best cells</h2>"):]
    assert re.findall(r"<h3>area 0\.[24], rotation 180: 0% \(0 of 24\)</h3>", worst)
    assert re.findall(r"<h3>area 0\.[24], rotation 0: 100% \(24 of 24\)</h3>", best)
    assert 'class="right"' not in worst and 'class="wrong"' not in best
    tench = imagenet_classes()[0]
    assert f"<li class=\"\">{tench}</li>" in worst  # its top-1 on an upside-down image
    shown = re.findall(r'<img src="\./scores-gallery/(\d+)\.jpg" alt="image (\d+): ([^"]+)"',
                       worst)
    assert len(shown) == 16 and all(a == b for a, b, _ in shown)  # 8 per cell, ids agree
    assert "8 of 24 images, errors first" in worst


def test_the_comparison_shows_the_cells_where_the_models_differ_most(report) -> None:
    page = (report / "scores-gallery-model-a-vs-model-b.html").read_text()
    assert "model-a against model-b" in page
    cells = re.findall(r"<h3>area [^,]+, rotation (\d+): model-a [^<]*, model-b (\d+)%", page)
    assert cells and all(rot == "0" and b == "100" for rot, b in cells)  # model-b right there
    assert page.count("model-a: <span") == page.count("model-b: <span") > 0


def test_thumbnails_are_the_images_behind_the_cells(run, report) -> None:
    thumbs = sorted((report / "scores-gallery").glob("*.jpg"))
    assert thumbs
    for path in thumbs[:6]:
        with Image.open(path) as img:
            assert img.format == "JPEG" and max(img.size) <= THUMB_PX
        image_id = int(path.stem)
        label = pd.read_csv(run["built"] / "metadata.csv").set_index("image_id")
        klass = pd.read_csv(run["built"] / "foreground_classes_metadata_indices.csv")
        name = klass.set_index("int")["label"][label.loc[image_id, "foreground_class"]]
        with Image.open(run["built"] / name / f"{image_id}.jpg") as built:
            # rendered again on the fly: the very pixels `siscore build` writes
            assert path.read_bytes() == thumbnail(built.convert("RGB"))


def test_a_built_dataset_gives_the_same_gallery_from_its_files(run, report, tmp_path) -> None:
    out = tmp_path / "files"
    write_report(run["scores"], out, formats="png", dpi=60,
                 images=Images(predictions=[run["a"], run["b"]], dataset=run["built"]))
    for path in sorted((report / "scores-gallery").glob("*.jpg")):
        assert (out / "scores-gallery" / path.name).read_bytes() == path.read_bytes()


def test_an_on_the_fly_evaluate_is_found_without_options(run, tmp_path) -> None:
    # the scores name the dataset folder; its dataset.json names evaluate's CSV (a.csv)
    out = tmp_path / "o"
    result = write_report(run["scores"], out, formats="png", dpi=60)
    assert (out / "scores-gallery-model-a.html").is_file()
    assert not (out / "scores-gallery-model-b.html").exists()  # b.csv is no evaluate output
    assert any("no gallery for model-b: no predictions file found; pass --predictions" in n
               for n in result.notes)


def test_the_report_opens_offline(report) -> None:
    for page in report.glob("*.html"):
        text = page.read_text()
        links = re.findall(r'(?:src|href)="([^"]+)"', text)
        assert links and all(link.startswith(("./", "data:image/png;base64,"))
                             for link in links), page.name
        for link in links:
            if link.startswith("./"):
                assert (report / link[2:]).is_file(), link


def test_no_gallery_and_a_note_when_the_assets_differ(run, tmp_path) -> None:
    fg = tmp_path / "fg" / "cup"
    fg.mkdir(parents=True)
    source = next((embedded_assets()[0] / "cup").glob("*.png"))
    shutil.copy(source, fg / source.name)
    out = tmp_path / "o"
    result = write_report(run["scores"], out, formats="png", dpi=60,
                          images=Images(predictions=[run["a"]], foregrounds=tmp_path / "fg"))
    assert any("rendered from other assets than --foregrounds/--backgrounds" in n
               for n in result.notes)
    assert not list(out.glob("*gallery*")) and (out / "scores-area-rotation.png").is_file()
    assert "rendered from other assets" in (out / "index.html").read_text()


def test_predictions_of_another_file_are_refused_before_writing(run, tmp_path) -> None:
    other = tmp_path / "c.csv"
    pd.read_csv(run["b"]).assign(model="model-z").to_csv(other, index=False)
    out = tmp_path / "o"
    with pytest.raises(ReportError, match=r"--predictions .*c\.csv: its model\(s\) model-z are "
                                          r"not in .*scores\.csv \(models: model-a, model-b\)"):
        write_report(run["scores"], out, images=Images(predictions=[other]))
    assert not out.exists()


def chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", *args], capture_output=True, text=True,
                          timeout=120)


@needs_chromium
def test_every_image_loads_in_a_real_browser(report, tmp_path) -> None:
    for page in ("index.html", "scores-gallery-model-b.html",
                 "scores-gallery-model-a-vs-model-b.html"):
        harness = tmp_path / f"{page}.check.html"
        harness.write_text(
            f'<!DOCTYPE html><html><head><title>wait</title></head><body>'
            f'<iframe id="f" src="{(report / page).as_uri()}" width="1200" height="800">'
            "</iframe><script>const f = document.getElementById('f');"
            "f.onload = () => { const imgs = [...f.contentDocument.images];"
            "Promise.all(imgs.map(i => i.complete ? 1 : new Promise(r => {"
            "i.onload = r; i.onerror = r; }))).then(() => { document.title = 'RESULT ' + "
            "imgs.length + ' ' + imgs.filter(i => i.naturalWidth > 0).length; }); };"
            "</script></body></html>")
        done = chromium("--allow-file-access-from-files", "--virtual-time-budget=20000",
                        "--dump-dom", harness.as_uri())
        found = re.search(r"<title>RESULT (\d+) (\d+)</title>", done.stdout)
        assert found, done.stderr[-2000:]
        total, loaded = int(found[1]), int(found[2])
        assert total > 0 and loaded == total, page


@needs_chromium
def test_the_gallery_renders_with_its_frames(report, tmp_path) -> None:
    shot = tmp_path / "gallery.png"
    chromium("--window-size=1200,1600", f"--screenshot={shot}",
             (report / "scores-gallery-model-b.html").as_uri())
    with Image.open(shot) as img:
        pixels = np.asarray(img.convert("RGB")).reshape(-1, 3).astype(int)
    red = (np.abs(pixels - [198, 40, 40]).sum(1) < 30).sum()  # the frames of wrong answers
    assert red > 2000
    assert pixels.std(0).mean() > 30  # photographs, not a blank page
    assert len(io.BytesIO(shot.read_bytes()).getvalue()) > 50_000


def test_a_dataset_image_above_the_pixel_limit_is_one_line_and_nothing_is_written(run, tmp_path
                                                                                  ) -> None:
    """The gallery reads a dataset's images as evaluate does: an image whose header claims
    20000 x 20000 pixels is refused before decoding (it was Pillow's raw DecompressionBombError)."""
    import shutil

    from tests.test_dataset_untrusted import _claim_size

    hostile = tmp_path / "hostile"
    shutil.copytree(run["built"], hostile)
    for jpg in hostile.glob("*/*.jpg"):
        _claim_size(jpg, 20000, 20000)
    out = tmp_path / "o"
    with pytest.raises(ReportError) as info:
        write_report(run["scores"], out, formats="png", dpi=60,
                     images=Images(predictions=[run["a"], run["b"]], dataset=hostile))
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(hostile))
    assert "20000x20000 image (400,000,000 pixels) is above the limit of 89,478,485" in message
    assert message.endswith("(or leave out --dataset)")
    assert not out.exists()
