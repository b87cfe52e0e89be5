"""`siscore info` on siscore builds and on folders in the official download layout."""

from __future__ import annotations

from click.testing import CliRunner

from siscore import Grid, build
from siscore.cli import main
from tests.test_build import library  # noqa: F401 - fixture re-used


def test_info_counts_factor_values_and_classes(library, tmp_path) -> None:  # noqa: F811
    out = tmp_path / "ds"
    grid = Grid(location=[(0.25, 0.5), (0.75, 0.5)], area=[0.1, 0.2], resolution=[(64, 64)],
                object_greyscale=[0, 1])
    build(grid, out, foregrounds=library[0], backgrounds=library[1], progress=False)
    res = CliRunner().invoke(main, ["info", str(out)])
    assert res.exit_code == 0, res.output
    assert f"{out}: 64 images, 3 classes" in res.output
    assert "x_coord (2 values): 0.25: 32, 0.75: 32" in res.output
    assert "area (2 values): 0.1: 32, 0.2: 32" in res.output
    assert "object_greyscale (2 values): 0: 32, 1: 32" in res.output
    assert "resolution: 64x64: 64" in res.output
    assert "  cup (ImageNet 968): 32" in res.output


def test_info_reads_the_official_layout(library, tmp_path) -> None:  # noqa: F811
    """The official downloads have no label_map.csv and no dataset.json."""
    out = tmp_path / "official"
    build(Grid(rotation=[1, 21, 41], resolution=[(64, 64)]), out, foregrounds=library[0],
          backgrounds=library[1], progress=False)
    (out / "label_map.csv").unlink()
    (out / "dataset.json").unlink()
    res = CliRunner().invoke(main, ["info", str(out)])
    assert res.exit_code == 0, res.output
    assert "subset rotation" in res.output and "rotation (3 values): 1: 8, 21: 8, 41: 8" in res.output
    assert "  bison (ImageNet 347): 6" in res.output


def test_info_on_a_folder_without_metadata(tmp_path) -> None:
    res = CliRunner().invoke(main, ["info", str(tmp_path)])
    assert res.exit_code != 0 and "metadata.csv: missing" in res.output


def test_info_finds_the_dataset_inside_an_unzipped_download(library, tmp_path) -> None:  # noqa: F811
    """The official location.zip unpacks to location20_area02_min0pc/ inside the folder."""
    inner = tmp_path / "official" / "location20_area02_min0pc"
    build(Grid(location=[(0.25, 0.5), (0.75, 0.5)], resolution=[(64, 64)]), inner,
          foregrounds=library[0], backgrounds=library[1], progress=False)
    res = CliRunner().invoke(main, ["info", str(tmp_path / "official")])
    assert res.exit_code == 0 and f"{inner}: 16 images" in res.output
    res = CliRunner().invoke(main, ["info", str(tmp_path)])  # two levels up: still found
    assert res.exit_code == 0 and f"{inner}: 16 images" in res.output
    (tmp_path / "elsewhere").mkdir()
    res = CliRunner().invoke(main, ["info", str(tmp_path / "elsewhere")])
    assert res.exit_code != 0 and "point at the folder that holds metadata.csv" in res.output


def test_info_on_a_file_that_is_not_a_zip_names_the_folder_to_give(tmp_path) -> None:
    """A careless user points at metadata.csv or a config: not "download it again"."""
    meta = tmp_path / "ds" / "metadata.csv"
    meta.parent.mkdir()
    meta.write_text("image_id,foreground_class\n0,0\n")
    res = CliRunner().invoke(main, ["info", str(meta)])
    assert res.exit_code == 1 and res.output.strip().splitlines() == [
        f"Error: {meta}: not a folder or a zip file; give its folder, {meta.parent}"]
    toml = tmp_path / "grid.toml"
    toml.write_text("[grid]\n")
    res = CliRunner().invoke(main, ["info", str(toml)])
    assert res.exit_code == 1 and res.output.strip().splitlines() == [
        f"Error: {toml}: not a folder or a zip file; give the dataset folder (with "
        "metadata.csv), or a subset zip"]
    fake = tmp_path / "location.zip"
    fake.write_text("not a zip")
    res = CliRunner().invoke(main, ["info", str(fake)])
    assert res.exit_code == 1 and "not a readable zip" in res.output and "download it again" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "grid.toml", "location.zip"]
