"""siscore: SI-SCORE-style synthetic robustness datasets and classifier scoring.

The pipeline runs one way, one package per stage (docs/architecture.md):
:mod:`siscore.generate` -> :mod:`siscore.evaluate` -> :mod:`siscore.score` ->
:mod:`siscore.report`, over the on-disk formats of :mod:`siscore.formats`.
Names are loaded on first use, so ``import siscore`` imports no cv2, torch or matplotlib.
"""

from __future__ import annotations

import lazy_loader as _lazy

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submod_attrs={
        "errors": ["SiscoreError", "ConfigError", "ParamError"],
        "generate.build": ["BuildResult", "build", "make_plan"],
        "generate.factors": ["SUBSETS", "Factor", "Grid"],
        "generate.interventions": ["get_intervention", "intervention", "list_interventions"],
        "formats.labels": ["load_label_map"],
        "formats.dataset": ["load_dataset"],
        "evaluate.data": ["SIScoreDataset"],
    },
)

from siscore import _compat  # noqa: E402 - the old module paths, deprecated

_compat.install()
