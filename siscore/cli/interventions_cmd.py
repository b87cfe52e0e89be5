"""``siscore interventions``: list the registered interventions (built-in and plugins)."""

from __future__ import annotations

import click

from siscore.cli.common import load_plugins
from siscore.cli.options import plugin_option


@click.command()
@plugin_option
def interventions(plugins: tuple[str, ...]) -> None:
    """List every registered intervention: name, stage and description.

    Use a name as a [grid] key in a --config file, or as a keyword of siscore.Grid.
    """
    from siscore.generate.interventions import get_intervention, list_interventions

    load_plugins(plugins)
    for name in list_interventions():
        spec = get_intervention(name)
        records = f" (records: {', '.join(spec.records)})" if spec.records else ""
        click.echo(f"{name:20s} {spec.stage:11s} {spec.description}{records}")
