"""The ``siscore`` command line: a thin layer over the library API.

Each command lives in its own module and is imported only when used, so that
``siscore --help`` stays fast and optional extras (torch, matplotlib) are only
needed by the commands that use them.
"""

from __future__ import annotations

import importlib

import click

from siscore import __version__

INTERRUPTED = "interrupted: run the same command again to resume"
"""What Ctrl-C prints (exit status 130) for every command; a re-run resumes where it stopped."""

# command name -> "module:attribute"
COMMANDS: dict[str, str] = {
    "build": "siscore.cli.build_cmd:build",
    "info": "siscore.cli.info_cmd:info",
    "download": "siscore.cli.download_cmd:download",
    "extract": "siscore.cli.extract_cmd:extract",
    "backgrounds": "siscore.cli.backgrounds_cmd:backgrounds",
    "evaluate": "siscore.cli.evaluate_cmd:evaluate",
    "score": "siscore.cli.score_cmd:score",
    "report": "siscore.cli.report_cmd:report",
    "interventions": "siscore.cli.interventions_cmd:interventions",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command not shipped in this build
                return None
            raise
        return getattr(module, attr)

    def invoke(self, ctx: click.Context) -> object:
        """Run the command. Every :class:`siscore.SiscoreError` (bad input: a config, assets, a
        dataset, predictions, a model, a download, a report) and a missing optional package
        become one ``Error:`` line and a non-zero exit (2 for a
        :class:`~siscore.errors.UsageError`), and Ctrl-C the ``interrupted`` line and exit
        status 130 (click would say ``Aborted!`` and exit 1), here and nowhere else."""
        from siscore.errors import SiscoreError, UsageError
        from siscore.utils.extras import missing_message

        try:
            return super().invoke(ctx)
        except UsageError as exc:
            raise click.UsageError(exc.cli_message()) from None
        except SiscoreError as exc:
            raise click.ClickException(exc.cli_message()) from None
        except KeyboardInterrupt:
            click.echo(f"\n{INTERRUPTED}", err=True)
            raise SystemExit(130) from None
        except ModuleNotFoundError as exc:
            what = f"siscore {ctx.invoked_subcommand}" if ctx.invoked_subcommand else "this command"
            message = missing_message(exc.name or "", what)
            if message is None:
                raise
            raise click.ClickException(message) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="siscore")
def main() -> None:
    """Generate SI-SCORE-style robustness datasets and score classifiers on them.

    \b
    Typical workflow:
      siscore build --subset location --out data/location
      siscore evaluate --dataset data/location --model efficientnet_lite0 --out preds.csv
      siscore score --dataset data/location --predictions preds.csv --out scores.csv
      siscore report --scores scores.csv --out figs/

    Run `siscore COMMAND --help` for the options of each command.
    """
