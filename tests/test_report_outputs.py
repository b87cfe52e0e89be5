"""write_report: every file kind is valid, deterministic, sized to the preset, and linked."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from siscore.report import summary_table, table_to_latex, write_report
from tests.report_scores import (
    breakdown_scores,
    location_scores,
    rotation_scores,
    size_scores,
)

BASE = "model-a"


@pytest.fixture(scope="module")
def scores_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small scores files of every kind (location on the paper's 21 x 21 grid)."""
    root = tmp_path_factory.mktemp("scores")
    location_scores().to_csv(root / "loc.csv", index=False)
    rotation_scores().to_csv(root / "rot.csv", index=False)
    # the paper's rotation subset (its record says so): the paper's rotation figure
    (root / "rot.summary.json").write_text(json.dumps({"subset": "rotation", "models": {}}))
    size = size_scores()
    size[size["area"].isin([0.05, 0.25, 0.5, 0.75, 1.0])].to_csv(root / "size.csv", index=False)
    breakdown_scores("label").to_csv(root / "label.csv", index=False)
    return root


@pytest.fixture(scope="module")
def report(scores_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("report")
    paths = [scores_dir / f for f in ("loc.csv", "rot.csv", "size.csv", "label.csv")]
    result = write_report(paths, out, baseline=BASE, dpi=100)
    return result


EXPECTED_FIGURES = ["loc-location", "loc-location-diff", "rot-rotation", "size-size",
                    "label-by-label"]


def test_every_figure_in_every_format_and_the_tables(report) -> None:
    out = report.out
    for name in EXPECTED_FIGURES:
        for fmt in ("pdf", "svg", "png"):
            assert (out / f"{name}.{fmt}").stat().st_size > 1000, f"{name}.{fmt}"
    for stem in ("loc", "rot", "size", "label"):
        assert (out / f"{stem}-summary.csv").is_file() and (out / f"{stem}-summary.tex").is_file()
    assert (out / "index.html").is_file()
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))  # no temporary leftovers
    assert len(report.files) == len(EXPECTED_FIGURES) * 3 + 4 * 2 + 1


def test_png_has_the_preset_width_and_no_software_or_time(report) -> None:
    image = Image.open(report.out / "loc-location.png")
    assert image.size[0] == round(6.9 * 100)
    assert image.format == "PNG"
    assert not {"Software", "Creation Time", "CreationTime"} & set(image.text)


def test_single_column_preset(tmp_path: Path, scores_dir: Path) -> None:
    result = write_report(scores_dir / "size.csv", tmp_path, width="single", dpi=200,
                          formats="png", titles=False)
    assert Image.open(tmp_path / "size-size.png").size[0] == round(3.3 * 200)
    assert {p.suffix for p in result.files} == {".png", ".csv", ".tex", ".html"}


@pytest.mark.skipif(shutil.which("pdftoppm") is None,
                    reason="pdftoppm not installed (Debian: apt-get install -y poppler-utils)")
def test_pdf_renders_with_pdftoppm_and_embeds_truetype_fonts(report, tmp_path: Path) -> None:
    for name in EXPECTED_FIGURES:
        pdf = report.out / f"{name}.pdf"
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF-")
        assert b"/FontFile2" in data and b"/Subtype /Type3" not in data  # TrueType embedded
        assert b"CreationDate" not in data
        subprocess.run(["pdftoppm", "-r", "40", "-png", "-singlefile", str(pdf),
                        str(tmp_path / name)], check=True, capture_output=True, timeout=60)
        page = np.asarray(Image.open(tmp_path / f"{name}.png").convert("L"))
        assert page.shape[1] == pytest.approx(6.9 * 40, abs=2)
        assert page.min() < 100 < page.max()  # something was drawn on a light page


def test_svg_is_well_formed_with_text_as_paths_and_no_date(report) -> None:
    for name in EXPECTED_FIGURES:
        root = ET.parse(report.out / f"{name}.svg").getroot()
        assert root.tag.endswith("svg")
        assert 300 < float(root.get("width").removesuffix("pt")) <= 496.8  # at most 6.9 in
        assert not [e for e in root.iter() if e.tag.endswith("}text")]
        assert not [e for e in root.iter() if e.tag.endswith("}date")]


def test_same_scores_give_byte_identical_files(report, scores_dir: Path, tmp_path: Path) -> None:
    paths = [scores_dir / f for f in ("loc.csv", "rot.csv", "size.csv", "label.csv")]
    again = write_report(paths, tmp_path, baseline=BASE, dpi=100)
    assert [p.name for p in again.files] == [p.name for p in report.files]
    for first, second in zip(report.files, again.files, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_index_html_shows_every_figure_and_table(report) -> None:
    text = (report.out / "index.html").read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == len(EXPECTED_FIGURES)
    assert base64.b64decode(images[0]) == (report.out / "loc-location.png").read_bytes()
    for link in re.findall(r'href="([^"]+)"', text):
        assert (report.out / link).is_file(), link
    assert text.count("<table>") == 4
    assert "model-c" in text and str(report.out) not in text  # portable: relative links


def test_index_embeds_png_even_when_only_vector_formats_are_written(scores_dir: Path,
                                                                      tmp_path: Path) -> None:
    write_report(scores_dir / "rot.csv", tmp_path, formats="pdf", dpi=60)
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    png = base64.b64decode(re.findall(r'base64,([^"]+)"', text)[0])
    assert Image.open(__import__("io").BytesIO(png)).size[0] == round(6.9 * 60)
    assert not list(tmp_path.glob("*.png"))


def test_summary_table_numbers(scores_dir: Path) -> None:
    frame = pd.DataFrame({
        "model": ["my_model"] * 2 + ["base"] * 2, "area": [0.1, 0.9] * 2,
        "n": [100, 300, 100, 300], "correct": [20, 240, 10, 150],
        "accuracy": [0.2, 0.8, 0.1, 0.5], "normalized": [0.25, 1.0, 0.2, 1.0]})
    table = summary_table(frame, baseline="base")
    row = table.set_index("model").loc["my_model"]
    assert row["images"] == 400
    assert row["accuracy"] == pytest.approx(260 / 400)
    assert row["accuracy_ci_low"] < 0.65 < row["accuracy_ci_high"]
    assert row["mean_accuracy"] == pytest.approx(0.5)
    assert row["worst_cell_accuracy"] == pytest.approx(0.2) and row["worst_cell"] == "area=0.1"
    # absolute (accuracy) and normalised differences side by side, mean over cells
    assert row["diff_accuracy"] == pytest.approx(((0.2 - 0.1) + (0.8 - 0.5)) / 2)
    assert row["diff_normalized"] == pytest.approx(((0.25 - 0.2) + 0) / 2)
    latex = table_to_latex(table, "my_scores.csv")
    assert "\\toprule" in latex and "\\midrule" in latex and "\\bottomrule" in latex
    assert "my\\_model" in latex and "my\\_scores.csv" in latex and "my_model" not in latex
    assert "65.0 [" in latex
    body = [ln for ln in latex.splitlines() if ln.endswith("\\\\")]
    assert len({ln.count("&") for ln in body}) == 1  # every row has as many cells as the header


def test_summary_json_numbers_are_added(tmp_path: Path) -> None:
    frame = location_scores()
    frame.to_csv(tmp_path / "s.csv", index=False)
    summary = {"subset": "location", "models": {
        BASE: {"n_images": 7938, "border_ratio": 0.25, "imagenet_top1": 76.1,
               "effective_robustness": -1.5}}}
    (tmp_path / "s.summary.json").write_text(json.dumps(summary))
    result = write_report(tmp_path / "s.csv", tmp_path / "out", formats="png", dpi=50)
    table = pd.read_csv(tmp_path / "out" / "s-summary.csv").set_index("model")
    assert table.loc[BASE, "images"] == 7938
    assert table.loc[BASE, "border_ratio"] == 0.25
    latex = (tmp_path / "out" / "s-summary.tex").read_text()
    assert "76.1" in latex and "$-$1.50" in latex
    assert result.sections[0].kind == "location"


def test_in_memory_tables_get_plain_file_names(tmp_path: Path) -> None:
    size = size_scores()
    result = write_report([size, size], tmp_path, formats="png", dpi=50, index=False)
    names = {p.name for p in result.files}
    assert {"scores-size.png", "scores-2-size.png", "scores-summary.csv"} <= names


def test_a_rerun_removes_the_temporary_files_of_a_killed_report(scores_dir: Path,
                                                                tmp_path: Path) -> None:
    """A writer killed with -9 leaves its temporary file; the next report into the folder
    removes it, and leaves a running writer's temporary file and the user's own files."""
    import os
    import signal
    import sys

    out = tmp_path / "report"
    out.mkdir()
    (out / "gallery").mkdir()
    code = ("import sys, time\nfrom pathlib import Path\nfrom siscore.utils.files import temp_beside\n"
            "for p in sys.argv[1:]: print(temp_beside(Path(p)), flush=True)\ntime.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(out / "index.html"),
                             str(out / "gallery" / "a.jpg")], stdout=subprocess.PIPE, text=True)
    stale = [Path(proc.stdout.readline().strip()) for _ in range(2)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert all(p.exists() for p in stale)
    from siscore.utils.files import temp_beside

    running = temp_beside(out / "draft.txt")  # this process, still running
    own = out / ".notes.tmp"
    own.write_text("mine")
    write_report(scores_dir / "size.csv", out, formats="png", dpi=60)
    assert not any(p.exists() for p in stale)
    assert running.exists() and own.read_text() == "mine"
    running.unlink()
