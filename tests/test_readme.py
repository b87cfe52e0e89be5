"""The README (the front page) and the manual in docs/ say what the code does.

The quick starts and the custom intervention example run as written; every other Python block
compiles and its ``siscore`` names exist; every ``siscore`` command line names real commands
and options; every relative link resolves, and the docs site builds with ``--strict``.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shlex
import subprocess
import sys
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path

import click
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
FILES = [README, *PAGES]
LINK = re.compile(r"\]\(([^)\s]+)\)")
SEPARATORS = {";", "&&", "||", "|"}


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    heading: str
    lang: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def fenced_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, each with the heading it sits under."""
    lines = path.read_text("utf-8").splitlines()
    out, heading, i = [], "", 0
    while i < len(lines):
        fence = re.match(r"\s*```(\w*)\s*$", lines[i])
        if fence:
            start, body = i, []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            out.append(Block(path, start + 1, heading, fence.group(1), "\n".join(body) + "\n"))
        elif lines[i].startswith("#"):
            heading = lines[i].lstrip("#").strip()
        i += 1
    return out


def anchors(path: Path) -> set[str]:
    """The ids of a page's headings, as MkDocs (Python-Markdown's toc) and GitHub make them."""
    out, fenced = set(), False
    for line in path.read_text("utf-8").splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        elif line.startswith("#") and not fenced:
            text = unicodedata.normalize("NFKD", line.lstrip("#").strip().replace("`", ""))
            text = re.sub(r"[^\w\s-]", "", text.encode("ascii", "ignore").decode()).strip().lower()
            out.add(re.sub(r"[-\s]+", "-", text))
    return out


def block(path: Path, heading: str, lang: str) -> Block:
    """The one ``lang`` block under the heading starting with ``heading``."""
    found = [b for b in fenced_blocks(path) if b.heading.startswith(heading) and b.lang == lang]
    assert len(found) == 1, f"{path.name}: {len(found)} {lang} blocks under {heading!r}, not 1"
    return found[0]


ALL_BLOCKS = [b for f in FILES for b in fenced_blocks(f)]
RUN_AS_WRITTEN = {block(README, "From the command line", "bash").id,
                  block(README, "From Python", "python").id,
                  block(ROOT / "docs" / "interventions.md", "Custom interventions", "python").id}
PYTHON = [b for b in ALL_BLOCKS if b.lang == "python" and b.id not in RUN_AS_WRITTEN]
BASH = [b for b in ALL_BLOCKS if b.lang == "bash"]


def bash_env() -> dict[str, str]:
    """The environment of a shell user of this virtual environment (its ``siscore`` first)."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


# ---- the front page and the links ---------------------------------------------------------

def test_readme_is_a_front_page_linking_every_page() -> None:
    text = README.read_text("utf-8")
    assert len(text.splitlines()) <= 300
    linked = {m.split("#")[0] for m in LINK.findall(text)}
    missing = [p.name for p in PAGES if f"docs/{p.name}" not in linked]
    assert not missing, f"README.md links no docs page {missing}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    text = path.read_text("utf-8")
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        file, _, anchor = target.partition("#")
        assert (path.parent / file).is_file(), f"{path.name}: link {target} points at nothing"
        if anchor:
            assert anchor in anchors(path.parent / file), f"{path.name}: no heading #{anchor}"
        if path == README:  # the site's home page is the README with docs/ stripped from links
            assert file.startswith("docs/"), f"README.md: link {target} is outside docs/"


def test_mkdocs_nav_lists_every_page() -> None:
    nav = re.findall(r":\s*(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text("utf-8"), flags=re.M)
    assert nav[0] == "index.md"
    assert sorted(nav[1:]) == sorted(p.name for p in PAGES)


def test_docs_site_builds_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    pytest.importorskip("material", reason="the docs extra (mkdocs-material) is not installed")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d",
                           str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    home = (tmp_path / "site" / "index.html").read_text("utf-8")
    assert 'src="img/report-size.png"' in home and 'href="evaluate/"' in home


# ---- blocks that run as written -----------------------------------------------------------

def quick_start_outputs(folder: Path) -> pd.DataFrame:
    """Check what both quick starts write; return the scores."""
    assert len(pd.read_csv(folder / "data" / "metadata.csv")) == 36
    predictions = pd.read_csv(folder / "lite0.csv")
    assert len(predictions) == 36 and predictions["model"].eq("efficientnet_lite0").all()
    scores = pd.read_csv(folder / "scores.csv")
    assert scores["area"].tolist() == [0.05, 0.2, 0.5] and scores["n"].tolist() == [12, 12, 12]
    # the README: "about 1 in 12 objects right at 5% of the image and 7 in 12 at 20%"
    assert abs(scores["correct"].iloc[0] - 1) <= 1 and abs(scores["correct"].iloc[1] - 7) <= 1
    assert (folder / "report" / "index.html").is_file()
    assert (folder / "report" / "scores-size.png").is_file(), sorted(os.listdir(folder / "report"))
    return scores


def test_cli_quick_start_runs_as_written(tmp_path: Path) -> None:
    pytest.importorskip("efficientnet_lite_pytorch", reason="the models extra is not installed")
    pytest.importorskip("matplotlib", reason="the plot extra is not installed")
    code = block(README, "From the command line", "bash").code
    done = subprocess.run(["bash", "-e", "-c", code], cwd=tmp_path, env=bash_env(),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    quick_start_outputs(tmp_path / "quick")


def test_python_quick_start_runs_as_written(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("efficientnet_lite_pytorch", reason="the models extra is not installed")
    pytest.importorskip("matplotlib", reason="the plot extra is not installed")
    monkeypatch.chdir(tmp_path)
    code = block(README, "From Python", "python").code
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_quick_start"})
    quick_start_outputs(tmp_path / "quick")


def test_custom_intervention_example_runs_as_written(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = block(ROOT / "docs" / "interventions.md", "Custom interventions", "python").code
    exec(compile(code, "docs/interventions.md", "exec"), {"__name__": "readme_example"})
    md = pd.read_csv(tmp_path / "data" / "noise" / "metadata.csv")
    assert sorted(md["background_noise"].unique()) == [0, 8, 16, 32]
    assert (tmp_path / "data" / "noise" / "dataset.json").exists()


# ---- every other Python block: compiles, and its siscore names exist -----------------------

def siscore_names(tree: ast.AST) -> list[tuple[str, str | None]]:
    """(module, name) for every ``import siscore...``/``from siscore... import name`` and every
    ``siscore.<attr>`` the block uses."""
    out: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names if a.name.split(".")[0] == "siscore"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "siscore":
            out += [(node.module, a.name) for a in node.names]
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id == "siscore"):
            out.append(("siscore", node.attr))
    return out


@pytest.mark.parametrize("code", PYTHON, ids=lambda b: b.id)
def test_python_block_compiles_and_its_siscore_names_exist(code: Block) -> None:
    tree = compile(code.code, code.id, "exec", ast.PyCF_ONLY_AST)
    for module_name, name in siscore_names(tree):
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # the docs use the new paths
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if (exc.name or "").startswith("siscore"):
                    raise
                pytest.skip(f"{code.id}: {exc.name} is not installed")
        if name is not None and not hasattr(module, name):
            importlib.import_module(f"{module_name}.{name}")  # a submodule, or an ImportError


# ---- every siscore command line: real commands and options ---------------------------------

def invocations(script: str) -> list[list[str]]:
    """The argument lists of every ``siscore`` (or ``-m siscore``) call in a shell script,
    including those quoted inside another command (``sbatch --wrap "siscore ..."``)."""
    script = re.sub(r"<<'?(\w+)'?\n.*?\n\1\n", "\n", script, flags=re.S)  # heredoc bodies
    calls = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        calls += calls_in(list(lexer))
    return calls


def calls_in(tokens: list[str]) -> list[list[str]]:
    """The ``siscore`` calls among the tokens of one command line."""
    calls, i = [], 0
    while i < len(tokens):
        at_start = i == 0 or tokens[i - 1] in {*SEPARATORS, "do", "then", "-m", "time"}
        if tokens[i] == "siscore" and at_start:
            end = next((j for j in range(i + 1, len(tokens)) if tokens[j] in SEPARATORS),
                       len(tokens))
            calls.append(tokens[i + 1:end])
            i = end
            continue
        if tokens[i].startswith("siscore "):
            calls += invocations(tokens[i])
        i += 1
    return calls


def check_invocation(args: list[str]) -> None:
    from siscore.cli import main

    command: click.Command = main
    path = ["siscore"]
    rest = list(args)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        if rest[0].startswith("$"):  # a shell variable: one of the subcommands must fit
            fits = []
            for name in command.list_commands(click.Context(command)):
                try:
                    check_invocation([*path[1:], name, *rest[1:]])
                    fits.append(name)
                except AssertionError:
                    pass
            assert fits, f"no subcommand of {' '.join(path)} takes {rest[1:]}"
            return
        sub = command.get_command(click.Context(command), rest[0])
        assert sub is not None, f"{' '.join(path)} has no command {rest[0]!r}"
        command, path = sub, [*path, rest.pop(0)]
    known = {"-h", "--help"}
    for param in command.params:
        known.update(param.opts, param.secondary_opts)
    wrong = [a.split("=")[0] for a in rest
             if a.startswith("-") and a != "-" and a.split("=")[0] not in known]
    assert not wrong, f"{' '.join(path)} has no option {wrong}"


@pytest.mark.parametrize("code", BASH, ids=lambda b: b.id)
def test_cli_lines_name_real_commands_and_options(code: Block) -> None:
    calls = invocations(code.code)
    for args in calls:
        try:
            check_invocation(args)
        except AssertionError as exc:
            raise AssertionError(f"{code.id}: {exc}: siscore {' '.join(args)}") from None


def test_the_checks_catch_stale_docs() -> None:
    """The two checks above fail on a renamed option, command or Python name."""
    assert invocations("siscore build --subset location \\\n    --out d  # comment\nls") == [
        ["build", "--subset", "location", "--out", "d"]]
    for args in (["build", "--subsets", "location"], ["evaluat", "--model", "x"],
                 ["download", "$s", "--no-such-option"]):
        with pytest.raises(AssertionError):
            check_invocation(args)
    stale = Block(README, 1, "", "python", "from siscore.evaluate import no_such_function\n")
    with pytest.raises(ImportError):
        test_python_block_compiles_and_its_siscore_names_exist(stale)
