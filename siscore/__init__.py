"""siscore: SI-SCORE-style synthetic robustness datasets and classifier scoring."""

from __future__ import annotations

__version__ = "0.1.0"

from siscore.build import BuildResult, build, make_plan
from siscore.factors import SUBSETS, ConfigError, Factor, Grid
from siscore.interventions import get_intervention, intervention, list_interventions
from siscore.labels import load_label_map

__all__ = [
    "SUBSETS",
    "BuildResult",
    "ConfigError",
    "Factor",
    "Grid",
    "build",
    "get_intervention",
    "intervention",
    "list_interventions",
    "load_label_map",
    "make_plan",
]
