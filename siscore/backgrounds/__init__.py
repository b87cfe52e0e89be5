"""Scoring, filtering and de-duplicating background photographs (``siscore backgrounds``).

Library API (the CLI is a thin layer over it)::

    from siscore.backgrounds import Thresholds, filter_folder, score_to_csv
    score_to_csv("photos/", "scores.csv")
    result = filter_folder("photos/", "library/", Thresholds(max_object_contrast=25))
    print(result.summary())

Names are imported on first use, so importing the package is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Thresholds": "siscore.backgrounds.thresholds",
    "decide": "siscore.backgrounds.filtering",
    "reasons": "siscore.backgrounds.filtering",
    "measure": "siscore.backgrounds.metrics",
    "near_duplicates": "siscore.backgrounds.phash",
    "phash": "siscore.backgrounds.phash",
    "BackgroundsError": "siscore.backgrounds.run",
    "FilterResult": "siscore.backgrounds.run",
    "filter_folder": "siscore.backgrounds.run",
    "score_to_csv": "siscore.backgrounds.run",
    "score_file": "siscore.backgrounds.scoring",
    "score_folder": "siscore.backgrounds.scoring",
    "ModelCheck": "siscore.backgrounds.model_check",
    "load_model_check": "siscore.backgrounds.model_check",
    "write_contact_sheets": "siscore.backgrounds.contact_sheet",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'siscore.backgrounds' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
