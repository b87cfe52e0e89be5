"""The images behind a scores file: its predictions files, its dataset, and each image's
pixels, read from the dataset folder or rendered again from the recorded grid spec.

Where things are found, in order:

- predictions: ``--predictions FILE`` (repeatable), else the paths the scores' summary
  JSON records (``models.<name>.predictions``), else, beside an on-the-fly evaluate's
  dataset folder, the CSV its ``dataset.json`` names and ``<model>.csv`` (what
  ``evaluate --out-dir`` writes);
- the dataset: ``--dataset DIR``, else the summary's ``dataset`` (as written, relative to
  the working folder, or relative to the scores file), else the ``<predictions>.dataset``
  folder that an on-the-fly ``siscore evaluate`` writes beside its CSV;
- pixels: the dataset's image files; for a metadata-only folder (``dataset.json`` says
  ``"images": false``), the images are rendered again from its spec with the embedded
  assets or ``--foregrounds``/``--backgrounds``, after checking that their SHA-256 are
  those the spec records and that each rendered image's metadata row is the folder's.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from siscore.errors import SiscoreError
from siscore.formats.dataset import DatasetInfo, load_dataset
from siscore.formats.images import ImageReadError, decode
from siscore.report.scores import ReportError, Scores
from siscore.score.io import Predictions, read_predictions
from siscore.score.reference import Reference, from_info


class SourceMissing(SiscoreError):
    """Why no gallery can be made: the report turns it into a note, not an error."""


@dataclass
class GalleryImages:
    """A dataset's metadata (indexed by ``image_id``) and a way to get each image."""

    root: Path
    metadata: pd.DataFrame
    info: DatasetInfo
    reference: Reference
    spec: dict[str, Any] | None = None
    renderer: Any = None  # (plan, Renderer) when the images are rendered again
    rendered: bool = False
    checked: set[int] = field(default_factory=set)

    def load(self, image_id: int) -> Image.Image:
        """The RGB image ``image_id``, as the model saw it before its own preprocessing."""
        row = self.metadata.loc[image_id]
        if not self.rendered:
            where = self.root / row["path"]
            try:
                with self.info.open(row["path"]) as f:
                    return decode(f, str(where))
            except ImageReadError as exc:
                raise ReportError(f"{exc} (or leave out --dataset)") from None
            except OSError as exc:
                raise ReportError(f"{where}: unreadable image ({exc}); rebuild the dataset or "
                                  "leave out --dataset.") from None
        return self._render(image_id)

    def _render(self, image_id: int) -> Image.Image:
        plan, renderer = self.renderer
        item = plan.item(image_id)
        spec = self.spec or {}
        if spec.get("format", "jpg") == "jpg":
            data, visible, records = renderer.encode(item, "jpg", int(spec.get("quality", 75)))
            with Image.open(io.BytesIO(data)) as img:
                image = img.convert("RGB")
        else:
            pixels, visible, records = renderer.render(item)
            image = Image.fromarray(pixels).convert("RGB")
        if image_id not in self.checked:
            self._check_row(plan.metadata_header(), plan.metadata_row(item, visible, records),
                            image_id)
            self.checked.add(image_id)
        return image

    def _check_row(self, header: list[str], row: list[str], image_id: int) -> None:
        mine = self.metadata.loc[image_id]
        for col, text in zip(header, row, strict=True):
            if col not in mine.index or col.startswith("pct_"):
                continue
            want = mine[col]
            same = (str(want) == text or _number(text) is not None and _number(want) is not None
                    and abs(_number(text) - _number(want)) < 1e-6)
            if not same:
                raise SourceMissing(
                    f"re-rendering image {image_id} from {self.root}'s spec gives {col} = "
                    f"{text}, not {want} as its metadata.csv says; the images cannot be "
                    "rendered again with this siscore (pass --dataset with the built images)")


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _candidates(text: str, scores_path: Path | None) -> list[Path]:
    path = Path(text)
    out = [path] if path.is_absolute() else [Path.cwd() / path]
    if scores_path is not None and not path.is_absolute():
        out.append(scores_path.parent / path)
    return out


def predictions_for(scores: Scores, given: Sequence[Path]) -> dict[str, Predictions]:
    """Each model's predictions: from ``given`` files, else the summary's records."""
    found: dict[str, Predictions] = {}
    for path in given:
        try:
            preds = read_predictions(path)
        except SiscoreError as exc:
            raise ReportError(f"--predictions {path}: {exc}") from None
        names = [p.name for p in preds]
        if not set(names) & set(scores.models):
            raise ReportError(f"--predictions {path}: its model(s) {', '.join(names)} are not "
                              f"in {scores.source} (models: {', '.join(scores.models)}).")
        found.update({p.name: p for p in preds if p.name in scores.models})
    records = (scores.summary or {}).get("models", {}) or {}
    source = Path(scores.source) if not scores.source.startswith("<") else None
    for model in scores.models:
        text = (records.get(model) or {}).get("predictions") if isinstance(
            records.get(model), dict) else None
        if model not in found and isinstance(text, str):
            _read_first(_candidates(text, source), {model}, found)
    missing = {m for m in scores.models if m not in found}
    root = _summary_dataset(scores)
    if missing and root is not None:  # an on-the-fly evaluate's folder names its CSV
        name = _dataset_json_file(root / "dataset.json").get("predictions")
        if isinstance(name, str):
            _read_first([root.parent / name], missing, found)
        for model in sorted(missing - set(found)):
            _read_first([root.parent / f"{model}.csv"], {model}, found)
    return found


def _read_first(paths: Sequence[Path], models: set[str], found: dict[str, Predictions]) -> None:
    """Add the predictions of ``models`` from the first of ``paths`` that exists (a file
    that changed since it was scored gives no gallery, not an error)."""
    for path in paths:
        if path.is_file():
            with contextlib.suppress(SiscoreError):
                found.update({p.name: p for p in read_predictions(path)
                              if p.name in models and p.name not in found})
            return


def _dataset_json_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _summary_dataset(scores: Scores) -> Path | None:
    """The dataset folder the scores' summary names, if it exists here."""
    text = (scores.summary or {}).get("dataset")
    source = Path(scores.source) if not scores.source.startswith("<") else None
    if isinstance(text, str):
        for path in _candidates(text, source):
            root = path.parent if path.suffix == ".csv" else path
            if (root / "metadata.csv").is_file() or root.suffix == ".zip" and root.is_file():
                return root
    return None


def dataset_folder(scores: Scores, given: Path | None, preds: dict[str, Predictions]) -> Path:
    """The dataset folder the scores were computed on (see the module docstring)."""
    if given is not None:
        return given
    root = _summary_dataset(scores)
    if root is not None:
        return root
    for pred in preds.values():
        beside = Path(pred.source + ".dataset")
        if (beside / "metadata.csv").is_file():
            return beside
    raise SourceMissing("no dataset found for the images (the summary names none that "
                        "exists here); pass --dataset DIR")


def open_source(root: Path, foregrounds: Path | None = None, backgrounds: Path | None = None,
                explicit: bool = False) -> GalleryImages:
    """Read the dataset at ``root`` and get ready to load (or render) its images."""
    try:
        info = load_dataset(root)
    except SiscoreError as exc:
        if explicit:
            raise ReportError(f"--dataset {root}: {exc}") from None
        raise SourceMissing(f"{root}: {exc}") from None
    md = info.metadata.set_index("image_id", drop=False)
    source = GalleryImages(Path(info.root), md, info, from_info(info), info.spec)
    meta = _dataset_json(info)
    if meta.get("images") is False:
        source.renderer = _renderer(info.spec or {}, root, foregrounds, backgrounds)
        source.rendered = True
    elif len(md) and not info.exists(str(md["path"].iloc[0])):
        raise SourceMissing(f"{root}: its images are not there (e.g. {md['path'].iloc[0]}); "
                            "pass --dataset with the built images")
    return source


def _dataset_json(info: Any) -> dict[str, Any]:
    if not info.exists("dataset.json"):
        return {}
    try:
        with info.open("dataset.json") as f:
            data = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _renderer(spec: dict[str, Any], root: Path, foregrounds: Path | None,
              backgrounds: Path | None) -> tuple[Any, Any]:
    """A plan of the spec's grid over the assets, checked against the recorded SHA-256."""
    from siscore.generate.build import make_plan
    from siscore.generate.factors import Grid
    from siscore.generate.render import Renderer

    try:
        grid = Grid.from_dict(spec["grid"])
        plan, _ = make_plan(grid, foregrounds=foregrounds, backgrounds=backgrounds,
                            seed=int(spec.get("seed", 0)), bgs_per_fg=int(spec.get("bgs_per_fg", 2)),
                            min_pct_inside=float(spec.get("min_pct_inside") or 0.0))
    except (SiscoreError, KeyError, TypeError, ValueError) as exc:
        raise SourceMissing(f"{root}: its images cannot be rendered again ({exc})") from None
    fgs = {fg.key: fg.sha256 for fg in plan.foregrounds}
    bgs = {bg.name: bg.sha256 for bg in plan.backgrounds}
    if fgs != spec.get("foregrounds") or bgs != spec.get("backgrounds"):
        which = ("--foregrounds/--backgrounds" if foregrounds or backgrounds
                 else "the embedded assets")
        raise SourceMissing(f"{root}: its images were rendered from other assets than "
                            f"{which}; pass --foregrounds and --backgrounds with the folders "
                            "they were rendered from")
    return plan, Renderer(plan, crop=str(spec.get("bg_crop", "topleft")))
