"""Assemble README.md from the section files in docs/ (run after editing any of them)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ["_intro", "generator", "interventions", "extract", "backgrounds", "evaluate", "score",
            "report", "download", "scale", "benchmarks", "_development"]


def render() -> str:
    parts = []
    for name in SECTIONS:
        path = ROOT / "docs" / f"{name}.md"
        if path.exists():
            text = path.read_text("utf-8").strip() + "\n"
            parts.append(text.replace("](img/", "](docs/img/"))
    return "\n".join(parts)


def main() -> None:
    text = render()
    target = ROOT / "README.md"
    if "--check" in sys.argv:
        sys.exit(0 if target.read_text("utf-8") == text else "README.md is out of date: run python tools/build_readme.py")
    target.write_text(text, "utf-8")


if __name__ == "__main__":
    main()
