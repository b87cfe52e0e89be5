"""The README is assembled from docs/ and its Python examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(section: str) -> list[str]:
    text = (ROOT / "README.md").read_text("utf-8")
    start = text.index(section)
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)


def test_readme_is_in_sync_with_docs() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_readme.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_custom_intervention_example_runs_as_written(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = python_blocks("## Custom interventions")[0]
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    md = pd.read_csv(tmp_path / "data" / "noise" / "metadata.csv")
    assert sorted(md["background_noise"].unique()) == [0, 8, 16, 32]
    assert (tmp_path / "data" / "noise" / "dataset.json").exists()
