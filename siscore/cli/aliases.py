"""Old option spellings kept working after a rename, hidden from ``--help``.

A command made with ``cls=AliasedCommand, aliases={"--old": "--new"}`` reads
``--old VALUE`` (and ``--old=VALUE``) as ``--new VALUE`` before click parses the
arguments, so errors and ``--help`` name only the new option. An alias whose new
option this command does not have is ignored: ``--old`` is then an unknown option
of its own name (never an error about an option the user did not type).
"""

from __future__ import annotations

from typing import Any

import click


class AliasedCommand(click.Command):
    """A click command that also accepts the old spellings of renamed options."""

    def __init__(self, *args: Any, aliases: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = dict(aliases or {})

    def _rename(self, arg: str) -> str:
        name, eq, value = arg.partition("=")
        new = self.aliases.get(name)
        if new is None or not any(new in p.opts for p in self.params):
            return arg
        return f"{new}{eq}{value}"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            args = [self._rename(a) for a in args[:cut]] + args[cut:]
        else:
            args = [self._rename(a) for a in args]
        return super().parse_args(ctx, args)
