"""Helpers shared by the CLI commands: one-line errors with a non-zero exit."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import click


def fail(message: str) -> NoReturn:
    """Print ``Error: message`` and exit with status 2 (a usage or configuration error)."""
    raise click.UsageError(message)


def run_guarded(body: Callable[[], None]) -> None:
    """Run a command body, turning known library errors into one-line messages."""
    from siscore.assets import AssetError
    from siscore.factors import ConfigError
    from siscore.labels import LabelMapError
    from siscore.render import InterventionError

    try:
        body()
    except (ConfigError, AssetError, LabelMapError, InterventionError) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("\ninterrupted: run the same command again to resume", err=True)
        raise SystemExit(130) from None


def parse_resolution(text: str) -> tuple[int, int]:
    """``--resolution``: ``N`` (square) or ``WxH``."""
    try:
        if "x" in text.lower():
            w, h = (int(p) for p in text.lower().split("x"))
        else:
            w = h = int(text)
    except ValueError:
        fail(f"--resolution {text!r}: write N or WxH, e.g. 500 or 640x480")
    return w, h
