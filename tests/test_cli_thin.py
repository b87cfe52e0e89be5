"""A thin command line (issue 21, item 4): short command functions, and ``--help`` pages that
import no cv2, torch or matplotlib (item 2)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli_names import COMMANDS

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("cv2", "torch", "torchvision", "matplotlib", "timm", "open_clip")

HELP_IMPORTS = """
import json, sys
from siscore.cli import main
try:
    main(sys.argv[1:], prog_name="siscore")
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})))
"""


@pytest.mark.parametrize("command", ["", *sorted(COMMANDS)])
def test_help_imports_no_heavy_library(command: str) -> None:
    args = [*command.split(), "--help"]
    res = subprocess.run([sys.executable, "-c", HELP_IMPORTS.format(heavy=set(HEAVY)), *args],
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)),
                         timeout=120)
    assert res.returncode == 0, res.stderr
    *page, imported = res.stdout.strip().splitlines()
    assert "Usage: siscore" in "\n".join(page)
    assert json.loads(imported) == [], f"siscore {command} --help imports {imported}"


def _command_functions() -> list[tuple[str, ast.FunctionDef]]:
    """Every function of siscore/cli decorated as a click command or group."""
    found = []
    for path in sorted((REPO / "siscore" / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any(
                    "command" in ast.unparse(d) or "group" in ast.unparse(d) for d in node.decorator_list):
                found.append((f"{path.name}:{node.name}", node))
    return found


@pytest.mark.parametrize(("name", "node"), _command_functions(), ids=[n for n, _ in _command_functions()])
def test_no_command_function_is_over_60_lines(name: str, node: ast.FunctionDef) -> None:
    lines = node.end_lineno - node.lineno + 1  # from `def` to the end: signature, docstring, body
    assert lines <= 60, f"{name} is {lines} lines: move its logic into the library"
