"""Deciding which photographs make good SI-SCORE backgrounds.

A photo is *rejected* when a score crosses a threshold (each reason is
written out with its number and the option that sets it), a *duplicate* when
its perceptual hash is within ``dup_distance`` bits of a better copy (more
pixels, then sharper, then first by name), *bad_input* when it cannot be
decoded (or is not an image at all), and *kept* otherwise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Protocol

from siscore.backgrounds.phash import from_hex, near_duplicates
from siscore.backgrounds.scoring import Row
from siscore.backgrounds.thresholds import Thresholds

KEPT, REJECTED, DUPLICATE, BAD_INPUT = "kept", "rejected", "duplicate", "bad_input"
DECISIONS: tuple[str, ...] = (KEPT, REJECTED, DUPLICATE, BAD_INPUT)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def reasons(row: Row, t: Thresholds) -> list[str]:
    """Why a scored photo fails the thresholds (empty: it passes)."""
    out: list[str] = []
    w, h = int(row["width"]), int(row["height"])
    if min(w, h) < t.min_photo_side:
        out.append(f"too small: {w}x{h}, shorter side < {t.min_photo_side} (--min-photo-side)")
    if t.max_aspect is not None and row["aspect"] > t.max_aspect:
        out.append(f"too elongated: aspect {row['aspect']:.2f} > {t.max_aspect:g} (--max-aspect)")
    if t.min_sharpness is not None and row["sharpness"] < t.min_sharpness:
        out.append(f"blurred or flat: sharpness {row['sharpness']:.2f} < {t.min_sharpness:g} "
                   "(--min-sharpness)")
    if t.max_clutter is not None and row["clutter"] > t.max_clutter:
        out.append(f"cluttered: edge density {row['clutter']:.3f} > {t.max_clutter:g} (--max-clutter)")
    if t.max_highlights is not None and row["highlights"] > t.max_highlights:
        out.append(f"overexposed: {_pct(row['highlights'])} clipped highlights > "
                   f"{_pct(t.max_highlights)} (--max-highlights)")
    if t.max_shadows is not None and row["shadows"] > t.max_shadows:
        out.append(f"underexposed: {_pct(row['shadows'])} crushed shadows > "
                   f"{_pct(t.max_shadows)} (--max-shadows)")
    if t.max_object_contrast is not None and row["object_contrast"] > t.max_object_contrast:
        out.append(f"prominent object: object contrast {row['object_contrast']:.1f} > "
                   f"{t.max_object_contrast:g} (--max-object-contrast)")
    if t.max_centre_focus is not None and row["centre_focus"] > t.max_centre_focus:
        out.append(f"subject in focus at the centre: centre focus {row['centre_focus']:.2f} > "
                   f"{t.max_centre_focus:g} (--max-centre-focus)")
    if t.max_saliency_peak is not None and row["saliency_peak"] > t.max_saliency_peak:
        out.append(f"saliency in one spot: saliency peak {row['saliency_peak']:.2f} > "
                   f"{t.max_saliency_peak:g} (--max-saliency-peak)")
    return out


class ModelJudge(Protocol):
    """A classifier check (see :mod:`siscore.backgrounds.model_check`)."""

    name: str
    max_prob: float

    def __call__(self, files: Sequence[str]) -> dict[str, tuple[str, float]]:
        """For each file name: the most probable study class and its probability."""
        ...


def decide(rows: Sequence[Row], thresholds: Thresholds, model: ModelJudge | None = None) -> list[Row]:
    """Copies of ``rows`` with ``decision`` and ``reason`` (and duplicate and model columns).

    The model (if any) only sees the photos that pass every other check.
    """
    out = [dict(r) for r in rows]
    for row in out:
        row.update(decision=KEPT, reason="", duplicate_of="", hash_distance="",
                   model_class="", model_prob="")
        if row.get("error"):
            row.update(decision=BAD_INPUT, reason=row["error"])
            continue
        why = reasons(row, thresholds)
        if why:
            row.update(decision=REJECTED, reason="; ".join(why))
    candidates = [r for r in out if r["decision"] == KEPT]
    candidates.sort(key=lambda r: (-float(r["megapixels"]), -float(r["sharpness"]), r["file"]))
    dups = near_duplicates([from_hex(r["phash"]) for r in candidates], thresholds.dup_distance)
    for i, (j, dist) in dups.items():
        candidates[i].update(
            decision=DUPLICATE, duplicate_of=candidates[j]["file"], hash_distance=dist,
            reason=f"near-duplicate of {candidates[j]['file']} (hash distance {dist} <= "
                   f"{thresholds.dup_distance}, --dup-distance)")
    if model is not None:
        unique = [r["file"] for r in out if r["decision"] == KEPT]
        verdicts = model(unique) if unique else {}
        for row in out:
            if row["file"] not in verdicts:
                continue
            label, prob = verdicts[row["file"]]
            row.update(model_class=label, model_prob=prob)
            if prob > model.max_prob:
                row.update(decision=REJECTED,
                           reason=f"model {model.name} sees {label!r}: p={prob:.2f} > "
                                  f"{model.max_prob:g} (--max-prob)")
    return out


def counts(rows: Sequence[Row]) -> dict[str, int]:
    """Number of rows per decision (every decision present, possibly 0)."""
    c = Counter(r["decision"] for r in rows)
    return {d: c.get(d, 0) for d in DECISIONS}


def reason_counts(rows: Sequence[Row]) -> Counter[str]:
    """How often each kind of reason occurs (the text before its first ':')."""
    c: Counter[str] = Counter()
    for r in rows:
        if r["decision"] in (REJECTED, BAD_INPUT):
            for part in str(r["reason"]).split("; "):
                c[part.split(":")[0].split(" (")[0]] += 1
    return c
