"""Factor values as text, the same everywhere (figures, tables, summaries, ``siscore info``).

A factor value read back from a CSV is often a float even when the grid declared an
integer (``rotation`` 101 comes back as ``101.0`` from a column that also holds NaN), and a
range's float arithmetic can leave ``0.30000000000000004``. :func:`factor_text` prints an
integral number as an integer and any other number as its shortest clean decimal.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Decimals a factor value is rounded to before printing (as the dataset reader cleans them).
DECIMALS = 10


def factor_text(value: Any) -> str:
    """``101.0`` -> ``"101"``, ``0.30000000000000004`` -> ``"0.3"``, ``True`` -> ``"True"``,
    ``"poisson"`` -> ``"poisson"``, NaN -> ``"nan"``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    rounded = round(value, DECIMALS)
    if rounded == int(rounded) and abs(rounded) < 2**53:
        return str(int(rounded))
    return f"{rounded:.{DECIMALS}f}".rstrip("0").rstrip(".")


def cell_text(cell: dict[str, Any]) -> str:
    """``{"area": 0.2, "rotation": 90.0}`` -> ``"area=0.2, rotation=90"``."""
    return ", ".join(f"{k}={factor_text(v)}" for k, v in cell.items())


__all__ = ["DECIMALS", "cell_text", "factor_text"]
