"""A dataset's files are untrusted input: paths derived from them stay inside the dataset,
values that cannot be right are refused on loading, images above the pixel limit are not
decoded. Each refusal is one line naming the file, row and value, from Python and from the
CLI (``info``, ``score``), and leaves nothing behind. Each test failed before its fix."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from siscore import Grid, build
from siscore.cli import main
from siscore.evaluate import FolderDataset, ImageReadError, SIScoreDataset, evaluate
from siscore.formats.dataset import DatasetError, load_dataset
from tests.test_build import library  # noqa: F401 - fixture re-used
from tests.tiny_model import TinyNet, to_tensor

GRID = Grid(area=[0.1, 0.3], resolution=[(48, 48)])
HOSTILE = "this dataset is damaged or hostile, do not use it"
FIX = "fix the row or re-download the dataset"


@pytest.fixture(scope="module")
def pristine(library, tmp_path_factory) -> Path:  # noqa: F811
    root = tmp_path_factory.mktemp("untrusted") / "ds"
    build(GRID, root, foregrounds=library[0], backgrounds=library[1], progress=False)
    return root


@pytest.fixture
def ds(pristine, tmp_path) -> Path:
    """A copy of the small dataset to tamper with (inside tmp_path/work)."""
    copy = tmp_path / "work" / "ds"
    shutil.copytree(pristine, copy)
    return copy


def _refused(root: Path, message: str) -> None:
    """The same line from load_dataset, `siscore info` and `siscore score`; nothing written."""
    with pytest.raises(DatasetError) as info:
        load_dataset(root)
    assert str(info.value) == message
    before = sorted(p.relative_to(root.parent) for p in root.parent.rglob("*"))
    res = CliRunner().invoke(main, ["info", str(root)])
    assert res.exit_code != 0 and res.output.strip().splitlines() == [f"Error: {message}"], res.output
    out = root.parent.parent / "scores"
    res = CliRunner().invoke(main, ["score", "--dataset", str(root), "-p", str(root / "metadata.csv"),
                                    "--out", str(out / "s.csv")])
    assert res.exit_code != 0 and f"Error: {message}" in res.output and "Traceback" not in res.output
    assert not out.exists()
    assert sorted(p.relative_to(root.parent) for p in root.parent.rglob("*")) == before


def _edit(path: Path, row: int, column: str, value: str) -> None:
    """Set ``column`` of CSV row ``row`` (the header is row 1) to the raw text ``value``."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[row - 1].split(",")
    cells[header.index(column)] = value
    lines[row - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


# -- paths derived from the dataset's files stay inside it -----------------------------------
@pytest.mark.parametrize(("label", "why"), [
    ("../../outside", "climbs out with '..'"),
    ("/etc", "is an absolute path"),
    ("a/b", "is a path, not a folder name"),
    ("..", "climbs out with '..'"),
    ("", "is empty"),
])
def test_a_class_label_that_leaves_the_folder_is_refused(ds, label, why) -> None:
    outside = ds.parent.parent / "outside"
    outside.mkdir()
    Image.new("RGB", (48, 48), "red").save(outside / "0.jpg")  # what the label would read
    table = ds / "foreground_classes_metadata_indices.csv"
    _edit(table, 2, "label", f'"{label}"' if label else "")
    _refused(ds, f"{table}, row 2: label {label!r} {why}; a label names the folder of its images "
                 f"inside the dataset: {HOSTILE}")


def test_a_hostile_label_in_a_zip_is_refused_too(ds, tmp_path) -> None:
    table = ds / "foreground_classes_metadata_indices.csv"
    _edit(table, 2, "label", "../other")
    zipped = tmp_path / "ds.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for p in sorted(ds.rglob("*")):
            z.write(p, f"location/{p.relative_to(ds).as_posix()}")
    with pytest.raises(DatasetError, match=r"ds\.zip:location/foreground_classes_metadata_indices"
                                           r"\.csv, row 2: label '\.\./other' climbs out with"):
        load_dataset(zipped)


def test_a_symbolic_link_out_of_the_folder_is_not_followed(ds, tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    Image.new("RGB", (48, 48), "red").save(outside / "secret.jpg")
    victim = next(ds.glob("cup/*.jpg"))
    victim.unlink()
    victim.symlink_to(outside / "secret.jpg")
    data = FolderDataset(ds)
    position = data.paths.index(f"cup/{victim.name}")
    with pytest.raises(ImageReadError) as info:
        data.load(position)
    assert str(info.value) == (f"{victim}: a symbolic link to {outside / 'secret.jpg'}, outside the "
                               "dataset folder; copy the file into the dataset instead")
    with pytest.raises(ImageReadError, match="outside the dataset folder"):  # through a worker too
        evaluate(TinyNet(), to_tensor, data, None, name="tiny", workers=1, progress=False)
    # a symbolic link that stays inside, and a dataset folder reached through a link, are fine
    victim.unlink()
    victim.symlink_to(next(p for p in ds.glob("cup/*.jpg")))
    link = tmp_path / "link"
    link.symlink_to(ds)
    assert FolderDataset(link).load(position).size == (48, 48)


# -- values that cannot be right ---------------------------------------------------------------
@pytest.mark.parametrize(("column", "value", "message"), [
    ("image_id", "", "image_id = an empty cell is not a whole number in 0..9007199254740991"),
    ("image_id", "2.5", "image_id = 2.5 is not a whole number in 0..9007199254740991"),
    ("image_id", "1e20", "image_id = 1e+20 is not a whole number in 0..9007199254740991"),
    ("image_id", "-3", "image_id = -3 is not a whole number in 0..9007199254740991"),
    ("image_id", "x7", "image_id = 'x7' is not a whole number in 0..9007199254740991"),
    ("foreground_class", "", "foreground_class = an empty cell is not a whole number in 0..2 (no "
     "class of foreground_classes_metadata_indices.csv has it)"),
    ("foreground_class", "7", "foreground_class = 7 is not a whole number in 0..2 (no class of "
     "foreground_classes_metadata_indices.csv has it)"),
])
def test_ids_that_cannot_be_right_are_refused(ds, column, value, message) -> None:
    _edit(ds / "metadata.csv", 4, column, value)
    _refused(ds, f"{ds / 'metadata.csv'}, row 4: {message}; {FIX}")


def test_a_repeated_image_id_is_refused(ds) -> None:
    first = (ds / "metadata.csv").read_text().splitlines()[1].split(",")[0]
    _edit(ds / "metadata.csv", 5, "image_id", first)
    _refused(ds, f"{ds / 'metadata.csv'}, row 5: image_id = {first} repeats row 2; each image is "
                 f"listed once: {FIX}")


@pytest.mark.parametrize(("value", "message"), [
    ("", "area = an empty cell is not a finite number; every image needs a value of each factor"),
    ("inf", "area = inf is not a finite number; every image needs a value of each factor"),
    ("=1+1", "area = '=1+1' is not a number"),
    ("big", "area = 'big' is not a number"),
])
def test_factor_values_that_cannot_be_right_are_refused(ds, value, message) -> None:
    _edit(ds / "metadata.csv", 3, "area", value)
    _refused(ds, f"{ds / 'metadata.csv'}, row 3: {message}; {FIX}")


def test_an_official_dataset_gets_the_same_checks(ds) -> None:
    # no dataset.json: every column but the record columns is a factor
    (ds / "dataset.json").unlink()
    (ds / "label_map.csv").unlink()
    _edit(ds / "metadata.csv", 6, "rotation", "nan")
    _refused(ds, f"{ds / 'metadata.csv'}, row 6: rotation = an empty cell is not a finite number; "
                 f"every image needs a value of each factor; {FIX}")


def test_a_formula_as_an_intervention_value_is_refused(library, tmp_path) -> None:  # noqa: F811
    root = tmp_path / "work" / "ds"
    grid = Grid(area=[0.2], blend=["alpha", "feather"], resolution=[(48, 48)])
    build(grid, root, foregrounds=library[0], backgrounds=library[1], progress=False)
    assert set(load_dataset(root).metadata["blend"]) == {"alpha", "feather"}  # text values are fine
    _edit(root / "metadata.csv", 2, "blend", "=HYPERLINK(\"http://x\")")
    _refused(root, f"{root / 'metadata.csv'}, row 2: blend = '=HYPERLINK(\"http://x\")' begins with "
                   "'=', which spreadsheets read as a formula; rename it (or re-download the dataset)")


def test_a_header_only_metadata_is_refused(ds) -> None:
    (ds / "metadata.csv").write_text((ds / "metadata.csv").read_text().splitlines()[0] + "\n")
    _refused(ds, f"{ds / 'metadata.csv'}: lists no images (a header only); rebuild or re-download "
                 "the dataset")


@pytest.mark.parametrize("label", ["=cmd|'calc'!A0", "+1", "-2", "@SUM(1)"])
def test_a_formula_label_in_the_class_table_is_refused(ds, label) -> None:
    table = ds / "foreground_classes_metadata_indices.csv"
    _edit(table, 3, "label", f'"{label}"')
    _refused(ds, f"{table}, row 3: label {label!r} begins with {label[0]!r}, which spreadsheets "
                 "read as a formula; rename it (or re-download the dataset)")


# -- the pixel limit ------------------------------------------------------------------------------
def _claim_size(path: Path, width: int, height: int) -> None:
    """Rewrite a baseline JPEG's frame header (SOF0) to claim another size: a real file
    whose header says width x height, a few kB on disk."""
    data = bytearray(path.read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    path.write_bytes(bytes(data))


def test_an_image_above_the_pixel_limit_is_refused_before_decoding(ds) -> None:
    victim = next(ds.glob("cup/*.jpg"))
    _claim_size(victim, 20000, 20000)
    data = FolderDataset(ds)
    position = data.paths.index(f"cup/{victim.name}")
    message = (f"{victim}: 20000x20000 image (400,000,000 pixels) is above the limit of 89,478,485 "
               "pixels; if it is meant to be that large, raise the limit (max_pixels=, siscore "
               "evaluate --max-pixels)")
    with pytest.raises(ImageReadError) as info:
        data.load(position)
    assert str(info.value) == message
    with pytest.raises(ImageReadError) as info:  # the same line through a DataLoader worker
        evaluate(TinyNet(), to_tensor, data, None, name="tiny", workers=1, progress=False)
    assert str(info.value) == message
    with pytest.raises(ImageReadError, match="400,000,000 pixels"):
        SIScoreDataset(ds)[position]


def test_the_pixel_limit_is_a_parameter(ds) -> None:
    small = FolderDataset(ds, max_pixels=48 * 48 - 1)
    with pytest.raises(ImageReadError, match=r"48x48 image \(2,304 pixels\) is above the limit of "
                                             r"2,303 pixels"):
        small.load(0)
    exact = FolderDataset(ds, max_pixels=48 * 48)
    assert np.array_equal(np.asarray(exact.load(0)), np.asarray(FolderDataset(ds).load(0)))
    with pytest.raises(ValueError, match=r"^max_pixels=0: must be a positive whole number"):
        FolderDataset(ds, max_pixels=0)


def test_evaluate_max_pixels_from_the_command_line(ds, tmp_path) -> None:
    """`siscore evaluate --max-pixels` is the limit's option: below an image's size the run
    stops with the one line and writes no predictions; raised to it, the run finishes."""
    args = ["evaluate", "--dataset", str(ds), "--model", "resnet18", "--random-weights",
            "--device", "cpu", "-j", "0", "--batch-size", "8"]
    out = tmp_path / "p.csv"
    low = CliRunner().invoke(main, [*args, "--out", str(out), "--max-pixels", str(48 * 48 - 1)])
    assert low.exit_code == 1
    assert "48x48 image (2,304 pixels) is above the limit of 2,303 pixels" in low.output
    errors = [line for line in low.output.splitlines() if not line.startswith("Warning:")]
    assert len(errors) == 1 and errors[0].startswith("Error: ") and not out.exists()
    ok = CliRunner().invoke(main, [*args, "--out", str(out), "--max-pixels", str(48 * 48)])
    assert ok.exit_code == 0, ok.output
    assert len(out.read_text().splitlines()) == len(FolderDataset(ds)) + 1
    rendered = CliRunner().invoke(main, ["evaluate", "--subset", "size", "--model", "resnet18",
                                         "--random-weights", "--out", str(tmp_path / "r.csv"),
                                         "--max-pixels", "100"])
    assert rendered.exit_code == 2 and "--max-pixels applies to the images of --dataset" in rendered.output


# -- labels that a spreadsheet would run are refused where they enter ------------------------------
def test_a_formula_label_in_a_label_map_is_refused(library, tmp_path) -> None:  # noqa: F811
    from siscore.formats.labels import LabelMapError, read_label_map

    table = tmp_path / "labels.csv"
    table.write_text("label,imagenet_index\ncup,968\n@SUM(A1),1\n")
    message = (f"{table}, row 3: label '@SUM(A1)' begins with '@', which spreadsheets read as a "
               "formula; rename it")
    with pytest.raises(LabelMapError) as info:
        read_label_map(table)
    assert str(info.value) == message
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["build", "--subset", "size", "--foregrounds", str(library[0]),
                                    "--backgrounds", str(library[1]), "--label-map", str(table),
                                    "--out", str(out)])
    assert res.exit_code != 0 and message in res.output and "Traceback" not in res.output
    assert len([line for line in res.output.splitlines() if line.startswith("Error: ")]) == 1
    assert not out.exists()


def test_a_foreground_folder_named_like_a_formula_is_refused(library, tmp_path) -> None:  # noqa: F811
    fg = tmp_path / "fg"
    shutil.copytree(library[0], fg)
    shutil.copytree(next(p for p in fg.iterdir() if p.is_dir()), fg / "=cmd")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["build", "--subset", "size", "--foregrounds", str(fg),
                                    "--backgrounds", str(library[1]), "--out", str(out)])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert res.output.strip().splitlines()[-1] == (
        f"Error: --foregrounds {fg}: class folder '=cmd' begins with '=', which spreadsheets read "
        "as a formula; rename it")
    assert not out.exists()
    with pytest.raises(ValueError, match=r"^foregrounds='.*fg': class folder '=cmd' begins with"):
        build(GRID, out, foregrounds=fg, backgrounds=library[1], progress=False)
    assert not out.exists()


def test_a_background_file_named_like_a_formula_is_refused(library, tmp_path) -> None:  # noqa: F811
    bg = tmp_path / "bg"
    shutil.copytree(library[1], bg)  # its name would reach backgrounds.csv as a formula
    shutil.copy(next(p for p in sorted(bg.iterdir()) if p.is_file()), bg / "+SUM(A1).jpg")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["build", "--subset", "size", "--foregrounds", str(library[0]),
                                    "--backgrounds", str(bg), "--out", str(out)])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert res.output.strip().splitlines() == [
        f"Error: --backgrounds {bg}: background file '+SUM(A1).jpg' begins with '+', which "
        "spreadsheets read as a formula; rename it"]
    assert not out.exists()
    with pytest.raises(ValueError, match=r"^backgrounds='.*bg': background file '\+SUM\(A1\).jpg'"):
        build(GRID, out, foregrounds=library[0], backgrounds=bg, progress=False)
    assert not out.exists()
