"""Shared fixtures: the SI-SCORE samples in ../shared (skipped when absent) and small real assets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# the SI-SCORE sample assets (not redistributed here): $SISCORE_SAMPLES, else ../shared/data/...
SAMPLES = Path(os.environ.get("SISCORE_SAMPLES") or REPO.parent / "shared" / "data" / "si-score-samples")


@pytest.fixture(scope="session")
def samples() -> Path:
    """The 9 foregrounds and 8 backgrounds of the original SI-SCORE release (read-only)."""
    if not (SAMPLES / "foregrounds").is_dir():
        pytest.skip(f"SI-SCORE sample assets absent ({SAMPLES}); set SISCORE_SAMPLES (docs/development.md)")
    return SAMPLES


@pytest.fixture(scope="session")
def sample_fg(samples: Path) -> Path:
    return samples / "foregrounds"


@pytest.fixture(scope="session")
def sample_bg(samples: Path) -> Path:
    return samples / "backgrounds"
