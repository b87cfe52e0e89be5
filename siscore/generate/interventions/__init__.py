"""Custom interventions: new factors of variation beyond size, location and rotation."""

from siscore.generate.interventions.registry import (
    STAGES,
    Intervention,
    get_intervention,
    intervention,
    list_interventions,
    load_plugin,
)

__all__ = [
    "STAGES",
    "Intervention",
    "get_intervention",
    "intervention",
    "list_interventions",
    "load_plugin",
]
