"""The predictions file as a resumable cache (its format and reader: :mod:`siscore.formats.predictions`).

For ``--out preds.csv`` the files are:

- ``preds.csv``: one row per image, sorted by ``image_id``, columns :data:`COLUMNS`;
  written (atomically) when the run finishes;
- ``preds.csv.meta.json``: the fingerprint (model, parameter hash, transform,
  dataset, AMP) and the run's counts; a re-run with the same fingerprint skips
  the images already predicted, a different one is refused unless ``overwrite``;
- ``preds.csv.logits.npz`` (optional): ``image_id`` (N,) int64 and ``logits`` (N, K) float32,
  plus ``output_classes`` (K,) when the model's outputs are not the 1000 ImageNet classes;
- ``preds.csv.dataset/`` (on-the-fly runs): a metadata-only dataset folder
  (``metadata.csv``, ``foreground_classes*.csv``, ``label_map.csv``,
  ``backgrounds.csv``, ``dataset.json``) that ``load_dataset`` reads;
- ``preds.csv.partial/`` while a run is unfinished: rows, logits and metadata
  appended batch by batch (flushed), so a killed run resumes without duplicates.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siscore.formats.predictions import (
    COLUMNS,
    INTEGER_COLUMNS,
    PredictionsError,
    SidePaths,
    read_predictions,
    recorded_top1,
)
from siscore.utils.files import atomic_text, csv_text

__all__ = ["COLUMNS", "FORMAT", "PredictionStore", "PredictionsError", "SidePaths",
           "dataset_index_files", "read_predictions", "recorded_top1"]

FORMAT = "siscore-predictions/1"


def _complete_lines(path: Path) -> list[list[str]]:
    """Rows of an append-only CSV, cutting a last line left half-written by a crash."""
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as f:
            f.truncate(end)
    return list(csv.reader(io.StringIO(data[:end].decode("utf-8"))))


def _write_npz(path: Path, ids: np.ndarray, logits: np.ndarray, chunk: int = 8192,
               output_classes: Sequence[int] | None = None) -> None:
    """Write ``image_id`` and ``logits`` sorted by id, streaming (the logits may be a memmap).

    ``output_classes`` (the ImageNet index of each logit column) is stored too when given.
    """
    order = np.argsort(ids, kind="stable")
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False,
              "shape": (len(ids), int(logits.shape[1]))}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
        with zf.open("image_id.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array(f, np.ascontiguousarray(ids[order], dtype="<i8"))
        with zf.open("logits.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_2_0(f, header)
            for start in range(0, len(order), chunk):
                f.write(np.asarray(logits[order[start:start + chunk]], dtype="<f4").tobytes())
        if output_classes is not None:
            with zf.open("output_classes.npy", "w") as f:
                np.lib.format.write_array(f, np.asarray(output_classes, dtype="<i8"))
    os.replace(tmp, path)


class PredictionStore:
    """Appends predictions batch by batch and merges them into the final files.

    Use :meth:`open` (returns the image ids already done), :meth:`append` per
    batch, then :meth:`finalize`.
    """

    def __init__(self, out: str | Path, fingerprint: dict[str, Any], *, logits: bool = False,
                 overwrite: bool = False, metadata_header: list[str] | None = None) -> None:
        self.paths = SidePaths(Path(out))
        self.fingerprint = json.loads(json.dumps(fingerprint))  # as it reads back
        self.logits = self.keeps_logits = logits
        self.overwrite = overwrite
        self.metadata_header = metadata_header
        self._rows: Any = None
        self._logits: Any = None
        self._meta_rows: Any = None
        self._width: int | None = None

    # -- opening ---------------------------------------------------------------------------
    def _check_previous(self) -> dict[str, Any] | None:
        p = self.paths
        leftovers = [x for x in (p.out, p.partial, p.logits) if x.exists()]
        if not p.meta.exists():
            if leftovers:
                raise PredictionsError(
                    f"--out {p.out}: {leftovers[0]} exists but {p.meta.name} (its fingerprint) does "
                    "not, so it cannot be resumed; give --overwrite to replace it or choose another --out"
                )
            return None
        if not leftovers:  # a run that failed before its first batch: nothing to keep
            p.meta.unlink()
            return None
        try:
            meta = json.loads(p.meta.read_text("utf-8"))
            previous = meta["fingerprint"]
        except (ValueError, KeyError):
            raise PredictionsError(f"{p.meta}: unreadable; give --overwrite to start again") from None
        if previous != self.fingerprint:
            changed = sorted(k for k in set(previous) | set(self.fingerprint)
                             if previous.get(k) != self.fingerprint.get(k))
            raise PredictionsError(
                f"--out {p.out}: holds predictions of a different run (differs in: "
                f"{', '.join(changed)}); give --overwrite to replace them, or choose another --out"
            )
        if bool(meta.get("logits")) != self.logits and (p.out.exists() or p.partial.exists()):
            raise PredictionsError(
                f"--out {p.out}: was started {'with' if meta.get('logits') else 'without'} --logits; "
                "run again the same way, or give --overwrite"
            )
        return meta

    def open(self, extra_meta: dict[str, Any] | None = None) -> set[int]:
        """Check the fingerprint, prepare the partial files; returns the finished image ids."""
        p = self.paths
        if self.overwrite:
            self.clear()
        if p.out.is_dir():
            raise PredictionsError(f"--out {p.out}: is a folder; give a file name such as "
                                   f"{p.out / 'predictions.csv'}")
        if not p.out.parent.is_dir():
            raise PredictionsError(f"--out {p.out}: folder {p.out.parent} does not exist")
        previous = self._check_previous()
        if previous is None:
            self.write_meta({"complete": False, **(extra_meta or {})})
        done = set(self._final_ids()) | set(self._recover_partial())
        return done

    def clear(self) -> None:
        for path in self.paths.all():
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()

    def _final_ids(self) -> list[int]:
        if not self.paths.out.exists():
            return []
        try:
            return [int(i) for i in pd.read_csv(self.paths.out, usecols=["image_id"])["image_id"]]
        except (ValueError, KeyError, pd.errors.ParserError) as exc:
            raise PredictionsError(f"{self.paths.out}: unreadable ({exc}); give --overwrite") from None

    def _recover_partial(self) -> list[int]:
        """Ids in the partial rows; trims logits and metadata that ran ahead of them."""
        part = self.paths.partial
        rows = _complete_lines(part / "rows.csv")
        ids = [int(r[0]) for r in rows]
        if self.logits and (part / "logits.bin").exists():
            width, records = self._read_logits(part / "logits.bin")
            if len(records) < len(ids) or not np.array_equal(records["image_id"][: len(ids)], ids):
                raise PredictionsError(f"{part}: rows and logits disagree; give --overwrite")
            rec_size = records.dtype.itemsize
            with open(part / "logits.bin", "r+b") as f:
                f.truncate(8 + rec_size * len(ids))
            self._width = width
        elif self.logits and ids:
            raise PredictionsError(f"{part}: rows without logits; give --overwrite")
        _complete_lines(part / "metadata.csv")
        return ids

    @staticmethod
    def _read_logits(path: Path) -> tuple[int, np.ndarray]:
        width = int(np.fromfile(path, dtype="<i8", count=1)[0])
        dtype = np.dtype([("image_id", "<i8"), ("logits", "<f4", (width,))])
        n = (path.stat().st_size - 8) // dtype.itemsize
        if n == 0:
            return width, np.zeros(0, dtype)
        return width, np.memmap(path, dtype=dtype, mode="r", offset=8, shape=(n,))

    # -- appending -------------------------------------------------------------------------
    def append(self, rows: list[list[Any]], logits: np.ndarray | None = None,
               metadata_lines: Sequence[str] | None = None) -> None:
        """Append one batch (metadata, then logits, then rows; each flushed)."""
        part = self.paths.partial
        if self._rows is None:
            part.mkdir(exist_ok=True)
            # kept open across batches; closed by close()
            self._meta_rows = open(part / "metadata.csv", "a", encoding="utf-8", newline="")  # noqa: SIM115
            self._rows = open(part / "rows.csv", "a", encoding="utf-8", newline="")  # noqa: SIM115
        if metadata_lines and self.metadata_header is not None:
            self._meta_rows.write("".join(metadata_lines))
            self._meta_rows.flush()
        if self.logits:
            if logits is None:
                raise ValueError("this store keeps logits: pass them")
            if self._logits is None:
                path = part / "logits.bin"
                new = not path.exists() or path.stat().st_size == 0
                self._logits = open(path, "ab")  # noqa: SIM115 - closed by close()
                if new:
                    self._width = logits.shape[1]
                    self._logits.write(np.int64(self._width).tobytes())
            if logits.shape[1] != self._width:
                raise PredictionsError(f"logits width {logits.shape[1]} differs from the cached {self._width}")
            rec = np.zeros(len(rows), np.dtype([("image_id", "<i8"), ("logits", "<f4", (self._width,))]))
            rec["image_id"] = [r[0] for r in rows]
            rec["logits"] = logits
            self._logits.write(rec.tobytes())
            self._logits.flush()
        self._rows.write(csv_text(rows))
        self._rows.flush()

    def close(self) -> None:
        for f in (self._rows, self._logits, self._meta_rows):
            if f is not None:
                f.close()
        self._rows = self._logits = self._meta_rows = None

    # -- finishing -------------------------------------------------------------------------
    def write_meta(self, fields: dict[str, Any]) -> None:
        old: dict[str, Any] = {}
        if self.paths.meta.exists():
            try:
                old = json.loads(self.paths.meta.read_text("utf-8"))
            except ValueError:
                old = {}
        meta = {**old, "format": FORMAT, "predictions": self.paths.out.name,
                "fingerprint": self.fingerprint, "logits": self.logits, **fields}
        atomic_text(self.paths.meta, json.dumps(meta, indent=1, sort_keys=True) + "\n")

    def finalize(self, total: int, extra_meta: dict[str, Any] | None = None,
                 dataset_files: dict[str, str] | None = None) -> pd.DataFrame:
        """Merge finished and partial rows into the final files; returns the predictions."""
        self.close()
        p = self.paths
        part = p.partial
        frames = []
        if p.out.exists():
            frames.append(read_predictions(p.out))
        rows = _complete_lines(part / "rows.csv")
        if rows:
            frame = pd.DataFrame(rows, columns=COLUMNS)
            for col in INTEGER_COLUMNS:
                frame[col] = frame[col].astype(np.int64)
            frames.append(frame)
        df = (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS))
        df = df.drop_duplicates("image_id", keep="first").sort_values("image_id", kind="stable")
        df = df.reset_index(drop=True)
        if rows or not p.out.exists():
            atomic_text(p.out, df.to_csv(index=False, lineterminator="\n"))
        if self.logits and (rows or not p.logits.exists()):
            self._finalize_logits()
        if self.metadata_header is not None and (rows or not (p.dataset / "metadata.csv").exists()):
            self._finalize_metadata(set(df["image_id"].tolist()), dataset_files or {})
        self.write_meta({"complete": len(df) == total, "images": len(df), "images_total": total,
                         **(extra_meta or {})})
        if part.exists():
            shutil.rmtree(part)
        return df

    def _finalize_logits(self) -> None:
        p = self.paths
        ids_parts, logit_parts = [], []
        if p.logits.exists():
            with np.load(p.logits) as old:
                ids_parts.append(old["image_id"])
                logit_parts.append(old["logits"])
        bin_path = p.partial / "logits.bin"
        if bin_path.exists():
            _, records = self._read_logits(bin_path)
            ids_parts.append(np.asarray(records["image_id"]))
            logit_parts.append(records["logits"])
        if not ids_parts:
            return
        ids = np.concatenate(ids_parts)
        logits = logit_parts[0] if len(logit_parts) == 1 else np.concatenate(logit_parts)
        _, first = np.unique(ids, return_index=True)
        keep = np.sort(first)
        if len(keep) != len(ids):
            ids, logits = ids[keep], np.asarray(logits)[keep]
        _write_npz(p.logits, ids, logits, output_classes=self.fingerprint.get("output_classes"))

    def _finalize_metadata(self, ids: set[int], files: dict[str, str]) -> None:
        folder = self.paths.dataset
        folder.mkdir(exist_ok=True)
        rows: list[list[str]] = []
        md_path = folder / "metadata.csv"
        if md_path.exists():
            rows += _complete_lines(md_path)[1:]
        rows += _complete_lines(self.paths.partial / "metadata.csv")
        seen: dict[int, list[str]] = {}
        for r in rows:
            i = int(r[0])
            if i in ids and i not in seen:
                seen[i] = r
        body = [seen[i] for i in sorted(seen)]
        for name, text in files.items():
            atomic_text(folder / name, text)
        atomic_text(md_path, csv_text([self.metadata_header, *body]))


def dataset_index_files(spec: dict[str, Any], classes: list[str],
                        backgrounds: list[str], predictions: str) -> dict[str, str]:
    """The index files of a metadata-only dataset folder (as ``siscore build`` writes them)."""
    label_map = spec["label_map"]
    return {
        "foreground_classes.csv": csv_text([["int", "label"], *([label_map[c][0], c] for c in classes)]),
        "foreground_classes_metadata_indices.csv":
            csv_text([["int", "label"], *([i, c] for i, c in enumerate(classes))]),
        "backgrounds.csv": csv_text([["int", "label"], *([i, b] for i, b in enumerate(backgrounds))]),
        "label_map.csv": csv_text([["label", "imagenet_index"],
                                    *([c, " ".join(map(str, label_map[c]))] for c in classes)]),
        "dataset.json": json.dumps({"spec": spec, "images": False, "predictions": predictions},
                                   indent=1, sort_keys=True) + "\n",
    }
