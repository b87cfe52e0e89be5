"""MkDocs hook (mkdocs.yml ``hooks:``): the site's home page is README.md itself.

The README links the manual as ``docs/<page>.md`` and ``docs/img/...`` (right on the
repository's front page); on the site those pages sit beside the home page, so the prefix
goes. Nothing is written to docs/: the page is generated in memory at every build.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

DOCS_LINK = re.compile(r"\]\(docs/")


def front_page(readme: str) -> str:
    """The README's text with its ``](docs/...)`` links made relative to docs/."""
    return DOCS_LINK.sub("](", readme)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add README.md as ``index.md`` (the home page) to the site's files."""
    readme = Path(config.config_file_path).parent / "README.md"
    files.append(File.generated(config, "index.md", content=front_page(readme.read_text("utf-8"))))
    return files
