"""Helpers shared by the CLI commands: one-line errors with a non-zero exit."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import click


def fail(message: str) -> NoReturn:
    """Print ``Error: message`` and exit with status 2 (a usage or configuration error)."""
    raise click.UsageError(message)


def run_guarded(body: Callable[[], None]) -> None:
    """Run a command body. Kept for the commands that still call it: Ctrl-C and library
    errors are turned into one line for every command in :class:`siscore.cli.LazyGroup`."""
    body()


def cli_message(exc: BaseException) -> str:
    """An error's one-line message with command-line option names (``--foregrounds fg: ...``)."""
    from siscore.errors import SiscoreError

    return exc.cli_message() if isinstance(exc, SiscoreError) else str(exc)


def load_plugins(plugins: tuple[str, ...] | list[str]) -> None:
    """Import every ``--plugin`` (a module name, or a ``.py`` file) so its interventions register."""
    from siscore.generate.interventions import load_plugin

    for plugin in plugins:
        try:
            load_plugin(plugin)
        except ValueError as exc:
            raise click.ClickException(cli_message(exc)) from None
