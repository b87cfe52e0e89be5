"""``siscore download``: the official SI-SCORE assets and prebuilt subsets from the public bucket.

Bad input (a key or zip member that cannot be written safely, an ``--out`` that cannot
be a folder, a folder another download holds) is a SiscoreError: one ``Error:`` line."""

from __future__ import annotations

from pathlib import Path

import click

from siscore.cli.aliases import AliasedCommand
from siscore.cli.common import run_guarded

RENAMED = {"--workers": "--jobs"}  # -j/--jobs is the parallelism option of every command

COMMON = [
    click.option("--out", type=click.Path(path_type=Path), required=True,
                 help="Folder to download into (created; a re-run resumes and reuses verified "
                      "files)."),
    click.option("--endpoint-url", default=None,
                 help="S3 endpoint of a mirror (default: AWS, anonymous requests)."),
    click.option("--bucket", default="si-score-dataset", show_default=True,
                 help="Bucket name (for a mirror)."),
    click.option("--jobs", "-j", "jobs", type=click.IntRange(1, 64), default=8,
                 show_default=True, help="Objects fetched in parallel (threads)."),
    click.option("--quiet", "-q", is_flag=True, help="No progress bar; print only the summary."),
]


def _common(f):
    for option in reversed(COMMON):
        f = option(f)
    return f


def _finish(result, what: str) -> None:
    click.echo(result.summary.text())
    if result.ok:
        for path in result.paths:
            click.echo(f"{what}: {path}")
    else:
        raise click.ClickException(f"{len(result.summary.failed)} file(s) failed; run the same "
                                   "command again to resume")


@click.group()
def download() -> None:
    """Download the official SI-SCORE data (public S3 bucket si-score-dataset).

    \b
    Examples:
      siscore download assets --out data/official
      siscore build --subset location --foregrounds data/official/foregrounds \\
          --backgrounds data/official/backgrounds --out data/location
      siscore download rotation --out data/official      # rotation.zip, unzipped
      siscore download size --mini --out data/official   # object_size_mini.zip
    """


@download.command(cls=AliasedCommand, aliases=RENAMED)
@_common
@click.option("--only", type=click.Choice(["foregrounds", "backgrounds"]), default=None,
              help="Fetch one of the two asset folders only.")
def assets(out, endpoint_url, bucket, jobs, quiet, only) -> None:
    """Foregrounds (614 cut-outs, OUT/foregrounds/<class>/) and backgrounds (867 photos,
    OUT/backgrounds/), ready for `siscore build --foregrounds --backgrounds`."""
    from siscore.download import download_assets

    def go() -> None:
        kinds = (only,) if only else ("foregrounds", "backgrounds")
        result = download_assets(out, kinds, endpoint_url=endpoint_url, bucket=bucket,
                                 jobs=jobs, progress=False if quiet else None)
        _finish(result, "assets")

    run_guarded(go)


def _subset_command(subset: str, folder: str) -> click.Command:
    @_common
    @click.option("--mini", is_flag=True,
                  help=f"The small object_{subset}_mini.zip instead of the full {subset}.zip.")
    @click.option("--no-extract", is_flag=True,
                  help="Keep the zip packed: every siscore command reads it in place.")
    @click.option("--loose", is_flag=True,
                  help=f"Fetch the unpacked files under object_{subset}/ instead of the zip "
                       "(many small requests).")
    def command(out, endpoint_url, bucket, jobs, quiet, mini, no_extract, loose) -> None:
        from siscore.download import download_subset

        def go() -> None:
            result = download_subset(subset, out, mini=mini, extract=not no_extract,
                                     loose=loose, endpoint_url=endpoint_url, bucket=bucket,
                                     jobs=jobs, progress=False if quiet else None)
            _finish(result, "dataset")

        run_guarded(go)

    command.__doc__ = (f"The prebuilt {subset} subset: {subset}.zip (unpacks to {folder}/) or, "
                       f"with --mini, object_{subset}_mini.zip.")
    return click.command(name=subset, cls=AliasedCommand, aliases=RENAMED)(command)


for _subset, _folder in (("size", "area"), ("location", "location20_area02_min0pc"),
                         ("rotation", "rotation")):
    download.add_command(_subset_command(_subset, _folder))
