"""A self-contained ``index.html``: every figure (PNG inlined as base64, with links to
the vector files) and every summary table, for a quick look in a browser."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from siscore import __version__
from siscore.report.paths import href
from siscore.report.tables import PERCENT, format_value

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
figure { margin: 1.2em 0; } img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { padding: 0.25em 0.7em; text-align: right; border-bottom: 1px solid #ddd; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #444; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


@dataclass
class FigureEntry:
    """One figure of the report: its files by format and a one-line caption."""

    name: str
    caption: str
    files: dict[str, Path]
    png: bytes = field(repr=False)
    cells: bool = True  # a figure of the grid's cells: the galleries are linked under it


@dataclass
class Section:
    """The figures and the summary table made from one scores file."""

    source: str
    kind: str
    figures: list[FigureEntry] = field(default_factory=list)
    table: pd.DataFrame | None = None
    table_files: dict[str, Path] = field(default_factory=dict)
    galleries: list[tuple[str, Path]] = field(default_factory=list)  # (link text, page)
    measure: str = ""  # what the figures plot, in words


def _cell(column: str, value: object, row: pd.Series) -> str:
    if column in ("model", "worst_cell"):
        return html.escape(str(value))
    if column == "images":
        return f"{int(value):,}"
    return html.escape(format_value(column, value, row)).replace("--", "&ndash;")


def table_html(table: pd.DataFrame) -> str:
    """The summary table as an HTML table (accuracies in %, intervals in brackets)."""
    cols = [c for c in table.columns if not c.endswith(("_ci_low", "_ci_high"))]
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}"
                   f"{' (%)' if c in PERCENT and not c.startswith('diff') else ''}"
                   f"{' (pp)' if c == 'diff_accuracy' else ''}"
                   "</th>" for c in cols)
    body = []
    for _, row in table.iterrows():
        body.append("<tr>" + "".join(f"<td>{_cell(c, row[c], row)}</td>" for c in cols)
                    + "</tr>")
    return (f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body)
            + "\n</tbody></table>")


def _gallery_links(section: Section, out: Path) -> str:
    if not section.galleries:
        return ""
    links = " · ".join(f'<a href="{html.escape(href(out, path))}">{html.escape(text)}</a>'
                       for text, path in section.galleries)
    return f'<br><span class="gallery">The images behind the cells: {links}</span>'


def render_index(sections: list[Section], out: Path, title: str = "siscore report", *,
                 others: list[Path] | None = None, notes: list[str] | None = None) -> str:
    """HTML text of the index page. Links are relative to ``out``, start with ``./`` and
    are quoted; ``others`` (files already in ``out`` that this run did not write) are
    listed at the end, and ``notes`` (what was not drawn, and why) at the top."""
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Written by <code>siscore report</code> {html.escape(__version__)}. Figures are "
        "shown as PNG; the links open the files in each format.</p>",
    ]
    for note in notes or []:
        parts.append(f'<p class="note">Note: {html.escape(note)}</p>')
    for section in sections:
        parts.append(f"<h2>{html.escape(section.kind)}: <code>{html.escape(Path(section.source).name)}"
                     "</code></h2>")
        for fig in section.figures:
            data = base64.b64encode(fig.png).decode("ascii")
            links = " · ".join(
                f'<a href="{html.escape(href(out, p))}">{fmt.upper()}</a>'
                for fmt, p in fig.files.items())
            parts.append(f'<figure id="{html.escape(fig.name)}">'
                         f'<img src="data:image/png;base64,{data}" alt="{html.escape(fig.caption)}">'
                         f"<figcaption>{html.escape(fig.caption)} ({links})"
                         f"{_gallery_links(section, out) if fig.cells else ''}"
                         "</figcaption></figure>")
        if section.table is not None:
            links = " · ".join(
                f'<a href="{html.escape(href(out, p))}">{fmt.upper()}</a>'
                for fmt, p in section.table_files.items())
            parts.append(f"<h3>Summary per model ({links})</h3>")
            if "diff_normalized" in section.table and section.measure:
                parts.append(f"<p>Normalised: {html.escape(section.measure)}.</p>")
            parts.append(table_html(section.table))
    if others:
        parts.append("<h2>Other files in this folder</h2>")
        parts.append("<p>Not written by this run (earlier runs, or your own files):</p><ul>")
        parts += [f'<li><a href="{html.escape(href(out, p))}">{html.escape(p.name)}</a></li>'
                  for p in others]
        parts.append("</ul>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)
