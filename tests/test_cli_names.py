"""One name per meaning across commands (issue 11, item 20), checked on every command's options.

Worker parallelism is ``-j/--jobs``, ``--device`` defaults to ``auto``, and ``--classes`` is
a set of class labels wherever it appears; renamed options keep their old spelling as a
hidden alias (:class:`siscore.cli.aliases.AliasedCommand`).
"""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from siscore.cli import main


def leaf_commands() -> dict[str, click.Command]:
    """Every runnable command, as ``"extract coco"`` -> its click command."""
    out: dict[str, click.Command] = {}

    def walk(prefix: str, group: click.Group) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            full = f"{prefix} {name}".strip()
            if isinstance(cmd, click.Group):
                walk(full, cmd)
            elif cmd is not None:
                out[full] = cmd

    walk("", main)
    return out


COMMANDS = leaf_commands()


def test_every_command_is_checked() -> None:
    assert {"build", "evaluate", "score", "report", "extract coco", "backgrounds filter",
            "download assets", "download size"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_workers_are_jobs_and_device_defaults_to_auto(name: str) -> None:
    options = {opt: p for p in COMMANDS[name].params if isinstance(p, click.Option)
               for opt in p.opts}
    assert not {"--workers", "--threads", "--num-workers"} & set(options), name
    if "--jobs" in options:
        assert options["--jobs"].opts == ["-j", "--jobs"] or set(options["--jobs"].opts) == {
            "-j", "--jobs"}, name
    if "--device" in options:
        assert options["--device"].default == "auto", name
    if "--classes" in options:  # a set of class labels (folder or comma list), not a file
        assert "LABEL" in (options["--classes"].help or "").upper() or "class" in (
            options["--classes"].help or ""), name
        assert not isinstance(options["--classes"].type, click.Path) or \
            options["--classes"].type.dir_okay, name


@pytest.mark.parametrize(("command", "old", "new"), [
    (["score"], "--classes", "--class-names"),
    (["download", "assets"], "--workers", "--jobs"),
    (["download", "rotation"], "--workers", "--jobs"),
    (["evaluate"], "--workers", "--jobs"),
])
def test_renamed_options_are_hidden_aliases(command: list[str], old: str, new: str) -> None:
    help_text = CliRunner().invoke(main, [*command, "--help"]).output
    assert new in help_text and f"{old} " not in help_text
    cmd = COMMANDS[" ".join(command)]
    assert getattr(cmd, "aliases", {}).get(old) == new
