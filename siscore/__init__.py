"""siscore: SI-SCORE-style synthetic robustness datasets and classifier scoring."""

from __future__ import annotations

__version__ = "0.1.0"
