"""Official SI-SCORE folders as they come: one label table, clean factor values, finding the
dataset inside a parent folder or a zip, and the loaders people use on this dataset
(torchvision ImageFolder, the original analysis notebook, Hugging Face imagefolder, a torch
Dataset of (image, target))."""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from siscore import Grid, build
from siscore.cli import main
from siscore.formats.dataset import (
    NON_FACTOR_COLUMNS,
    DatasetError,
    add_file_name_column,
    load_dataset,
)
from tests.official_replica import AREAS, OFFICIAL_INDEX, official_files

PREDICT = {"cup": 968, "laptop": 681, "kite": 21}  # one prediction per class, for every image


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sources")
    fg, bg, label_map, built, official = official_files(root)
    plain = root / "plain"  # a siscore build with the built-in table: kite has no class, skipped
    build(Grid(area=AREAS, rotation=[1, 21], resolution=[(48, 48)]), plain, foregrounds=fg,
          backgrounds=bg, progress=False)
    return {"official": official, "built": built, "plain": plain, "root": root}


def predictions(dataset: Path, out: Path) -> Path:
    md = load_dataset(dataset).metadata
    pd.DataFrame({"image_id": md["image_id"], "top1": [PREDICT[c] for c in md["label"]]}).to_csv(
        out, index=False)
    return out


def score(dataset: Path, preds: Path, out: Path, *extra: str) -> tuple[pd.DataFrame, dict]:
    res = CliRunner().invoke(main, ["score", "--dataset", str(dataset), "-p", str(preds),
                                    "--name", "m", "--out", str(out), "-q", *extra])
    assert res.exit_code == 0, res.output
    return pd.read_csv(out), json.loads(out.with_name(out.stem + ".summary.json").read_text())


def per_class(table: pd.DataFrame) -> dict[str, float]:
    return dict(zip(table["label"], table["accuracy"], strict=True))


def test_official_folder_is_read_with_the_corrected_table(sources) -> None:
    info = load_dataset(sources["official"])
    assert info.imagenet["kite"] == () and info.imagenet["laptop"] == (620, 681)
    assert info.imagenet["cup"] == (968,)
    assert any("'kite': official foreground_classes.csv says 21 (kite)" in n for n in info.notes)
    assert any("'laptop'" in n and "620 (laptop) 681 (notebook)" in n for n in info.notes)
    assert not any("'cup'" in n for n in info.notes)


def test_same_predictions_same_per_class_correctness(sources, tmp_path) -> None:
    official, plain = sources["official"], sources["plain"]
    got_official, summary = score(official, predictions(official, tmp_path / "o.csv"),
                                  tmp_path / "so.csv", "--by", "label")
    got_plain, _ = score(plain, predictions(plain, tmp_path / "p.csv"), tmp_path / "sp.csv",
                         "--by", "label")
    assert per_class(got_official) == {"cup": 1.0, "kite": 0.0, "laptop": 1.0}
    assert per_class(got_plain) == {"cup": 1.0, "laptop": 1.0}  # kite: no class, not built
    assert any("'kite'" in n for n in summary["notes"])  # the differences are in the summary


def test_label_map_is_honoured(sources, tmp_path) -> None:
    official, built = sources["official"], sources["built"]
    preds = predictions(official, tmp_path / "o.csv")
    as_published = official / "foreground_classes.csv"
    table, summary = score(official, preds, tmp_path / "s.csv", "--by", "label", "--label-map",
                           str(as_published))
    assert per_class(table) == {"cup": 1.0, "kite": 1.0, "laptop": 0.0}
    assert any("--label-map" in n and "kite" in n for n in summary["notes"])
    mine = tmp_path / "mine.csv"
    mine.write_text("label,imagenet_index\ncup,500\n")
    table, _ = score(built, preds, tmp_path / "b.csv", "--by", "label", "--label-map", str(mine))
    assert per_class(table)["cup"] == 0.0  # a siscore build too: never ignored


def test_bad_label_map_is_named_and_nothing_written(sources, tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,index\ncup,968\n")
    preds = predictions(sources["official"], tmp_path / "o.csv")
    res = CliRunner().invoke(main, ["score", "--dataset", str(sources["official"]), "-p",
                                    str(preds), "--label-map", str(bad), "--out",
                                    str(tmp_path / "out" / "s.csv")])
    assert res.exit_code != 0 and f"{bad}: the header must contain 'label'" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "out").exists()


def test_factor_values_are_clean_and_tables_join(sources, tmp_path) -> None:
    official, built = sources["official"], sources["built"]
    raw = pd.read_csv(official / "metadata.csv")
    assert 0.15000000000000002 in set(raw["area"])  # as the original generator wrote them
    assert sorted(load_dataset(official).metadata["area"].unique()) == [0.15, 0.35]
    a, _ = score(official, predictions(official, tmp_path / "o.csv"), tmp_path / "a.csv")
    b, _ = score(built, predictions(built, tmp_path / "b.csv"), tmp_path / "b2.csv")
    joined = a.merge(b, on=["area", "rotation"], suffixes=("_official", "_siscore"))
    assert len(joined) == len(a) == len(b) == 4
    assert (joined["n_official"] == joined["n_siscore"]).all()


def test_a_parent_folder_or_a_zip_is_accepted(sources, tmp_path) -> None:
    official = sources["official"]
    parent = tmp_path / "unzipped"
    shutil.copytree(official, parent / "rotation")
    assert load_dataset(parent).root == parent / "rotation"
    zipped = tmp_path / "rotation.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for p in sorted(official.rglob("*")):
            z.write(p, f"rotation/{p.relative_to(official).as_posix()}")
    from_zip, from_folder = load_dataset(zipped, check_files=True), load_dataset(official)
    assert from_zip.root == zipped / "rotation"
    pd.testing.assert_frame_equal(from_zip.metadata, from_folder.metadata)
    from siscore.evaluate import FolderDataset

    a, b = FolderDataset(from_zip), FolderDataset(pickle.loads(pickle.dumps(from_folder)))
    assert np.array_equal(np.asarray(a.load(5)), np.asarray(b.load(5)))
    res = CliRunner().invoke(main, ["info", str(zipped)])
    assert res.exit_code == 0 and f"{zipped / 'rotation'}: 32 images" in res.output
    preds = predictions(official, tmp_path / "p.csv")
    in_zip, _ = score(zipped, preds, tmp_path / "z.csv")
    in_folder, _ = score(parent, preds, tmp_path / "f.csv")
    pd.testing.assert_frame_equal(in_zip, in_folder)
    # backgrounds.csv is read through the zip too (was: "needs backgrounds.csv beside ...")
    by_zip, _ = score(zipped, preds, tmp_path / "zb.csv", "--by", "background_name")
    by_folder, _ = score(parent, preds, tmp_path / "fb.csv", "--by", "background_name")
    pd.testing.assert_frame_equal(by_zip, by_folder)
    assert by_zip["background_name"].notna().all()


def test_a_parent_with_several_datasets_names_them(sources, tmp_path) -> None:
    for name in ("area", "rotation"):
        shutil.copytree(sources["official"], tmp_path / name)
    res = CliRunner().invoke(main, ["info", str(tmp_path)])
    assert res.exit_code != 0
    assert f"holds 2 datasets, point at one of them: {tmp_path / 'area'}, {tmp_path / 'rotation'}" in res.output
    only_zip = tmp_path / "z"
    only_zip.mkdir()
    (only_zip / "size.zip").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"point at the zip .*size\.zip"):
        load_dataset(only_zip)
    with pytest.raises(DatasetError, match="not a readable zip"):
        load_dataset(only_zip / "size.zip")


def test_torchvision_imagefolder_matches_the_metadata(sources) -> None:
    from torchvision.datasets import ImageFolder

    for name in ("official", "built"):
        info = load_dataset(sources[name])
        folder = ImageFolder(str(sources[name]))
        assert folder.classes == info.classes  # sorted names = metadata foreground_class
        by_path = dict(zip(info.metadata["path"], info.metadata["foreground_class"], strict=True))
        got = {str(Path(p).relative_to(sources[name])): t for p, t in folder.samples}
        assert got == by_path


def test_the_original_notebook_parsing(sources, tmp_path) -> None:
    """analysis_demo.ipynb: folder_path/test/, labels from foreground_classes.csv by the class
    folder name, image_id from the file name, groups by exact factor values."""
    folder_path = tmp_path / "object_rotation_mini"
    shutil.copytree(sources["official"], folder_path / "test")
    mapping_df = pd.read_csv(folder_path / "test" / "foreground_classes.csv")
    mapping = dict((row.values[1], row.values[0]) for _, row in mapping_df.iterrows())
    files = sorted(str(p) for p in (folder_path / "test").glob("*/*.jpg"))
    labels = [mapping[f.split("/")[-2]] for f in files]
    image_ids = [int(f.split("/")[-1].split(".")[0]) for f in files]
    features_df = pd.DataFrame({"image_id": image_ids, "imagenet_label": labels})
    metadata_df = pd.read_csv(folder_path / "test" / "metadata.csv")
    combined = pd.merge(metadata_df, features_df, on="image_id")
    assert len(combined) == len(metadata_df) == 32
    assert set(labels) == set(OFFICIAL_INDEX.values())
    areas = sorted(set(metadata_df["area"]))
    counts = [len(metadata_df[metadata_df["area"] == a].index) for a in areas]
    info = load_dataset(folder_path)  # siscore finds test/ inside, and agrees on the groups
    assert info.root == folder_path / "test"
    assert counts == info.metadata["area"].value_counts().sort_index().tolist()


def test_hugging_face_imagefolder_and_the_file_name_column(sources, tmp_path) -> None:
    import datasets

    folder = tmp_path / "rotation"
    shutil.copytree(sources["official"], folder)
    before = load_dataset(folder)
    add_file_name_column(folder)
    after = load_dataset(folder)
    assert "file_name" in after.metadata.columns and "file_name" in NON_FACTOR_COLUMNS
    assert after.factors == before.factors == ["area", "rotation"]
    raw_before = pd.read_csv(sources["official"] / "metadata.csv", dtype=str)
    raw_after = pd.read_csv(folder / "metadata.csv", dtype=str)
    pd.testing.assert_frame_equal(raw_after.drop(columns="file_name"), raw_before)
    hf = datasets.load_dataset("imagefolder", data_dir=str(folder), split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert len(hf) == 32 and {"image", "image_id", "area"} <= set(hf.column_names)
    row = hf[0]
    path = after.metadata.set_index("image_id").loc[row["image_id"], "path"]
    assert np.array_equal(np.asarray(row["image"]), np.asarray(Image.open(folder / path)))
    s1, _ = score(sources["official"], predictions(folder, tmp_path / "p.csv"), tmp_path / "a.csv")
    s2, _ = score(folder, tmp_path / "p.csv", tmp_path / "b.csv")
    pd.testing.assert_frame_equal(s1, s2)  # the added column changes nothing in scoring


def test_torch_dataset_of_image_and_target(sources, tmp_path) -> None:
    import torch

    from siscore.evaluate import SIScoreDataset

    zipped = tmp_path / "rotation.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for p in sorted(sources["official"].rglob("*")):
            z.write(p, f"rotation/{p.relative_to(sources['official']).as_posix()}")
    ds = SIScoreDataset(zipped, transform=lambda im: torch.from_numpy(np.asarray(im).copy()))
    assert len(ds) == 32 and ds.class_valid_indices["laptop"] == (620, 681)
    image, target = ds[0]
    assert image.shape == (48, 48, 3) and target == 968  # image 0 is a cup
    labels = ds.metadata["label"].tolist()
    assert [t for t, c in zip(ds.targets, labels) if c == "kite"] == [-1] * labels.count("kite")
    correct = ds.is_correct([PREDICT[c] for c in labels])
    assert correct.tolist() == [c != "kite" for c in labels]
    plain = SIScoreDataset(zipped)  # pickled as DataLoader workers get it
    assert pickle.loads(pickle.dumps(plain))[1][1] == ds.targets[1]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch[0].shape == (4, 48, 48, 3) and batch[1].tolist() == ds.targets[:4]
    official = SIScoreDataset(sources["official"], label_map=sources["official"] / "foreground_classes.csv")
    assert official.class_valid_indices["kite"] == (21,)
