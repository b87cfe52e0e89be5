"""Paper style: column-width presets, fonts, colour maps and byte-deterministic saving."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from siscore import __version__
from siscore.utils.files import temp_beside

#: Figure widths in inches: one column and the full text width of a two-column paper.
WIDTHS: dict[str, float] = {"single": 3.3, "double": 6.9}
FORMATS = ("pdf", "svg", "png")

#: Sequential map for accuracy and normalised accuracy; diverging map for differences.
SEQUENTIAL = "viridis"
DIVERGING = "RdBu"
MISSING_COLOUR = "#d9d9d9"

#: Text sizes in points: readable when a figure is printed at its preset width.
RC: dict[str, object] = {
    "font.family": "DejaVu Sans",
    "font.size": 7,
    "axes.titlesize": 7,
    "axes.labelsize": 7,
    "xtick.labelsize": 6,
    "ytick.labelsize": 6,
    "legend.fontsize": 6,
    "legend.title_fontsize": 6,
    "figure.titlesize": 8,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "lines.linewidth": 1.0,
    "lines.markersize": 2.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "hatch.linewidth": 0.5,
    "image.cmap": SEQUENTIAL,
}
#: Settings that make saved files identical for identical figures.
SAVE_RC: dict[str, object] = {
    "pdf.fonttype": 42,  # embed TrueType fonts (journals reject Type 3)
    "ps.fonttype": 42,
    "svg.fonttype": "path",  # text as outlines: no font needed to view it
    "svg.hashsalt": "siscore-report",
    "svg.id": "siscore-report",
}
METADATA: dict[str, dict[str, object]] = {
    "pdf": {"Creator": f"siscore {__version__}", "Producer": None, "CreationDate": None,
            "ModDate": None},
    "svg": {"Creator": f"siscore {__version__}", "Date": None},
    "png": {"Software": None},
}


def figure_width(width: str | float) -> float:
    """Inches for a preset name (``single``, ``double``) or a number of inches."""
    if isinstance(width, (int, float)):
        if width <= 0:
            raise ValueError(f"width must be positive inches, got {width}")
        return float(width)
    try:
        return WIDTHS[width]
    except KeyError:
        raise ValueError(
            f"unknown width {width!r}: use one of {', '.join(WIDTHS)} or inches") from None


@contextmanager
def paper_style() -> Iterator[None]:
    """Apply the paper rc settings while figures are built (nothing global is changed)."""
    with mpl.rc_context(RC):
        yield


def new_figure(width: str | float, height: float) -> Figure:
    """A figure of the given width preset and height (inches) with constrained layout.

    Figures are made without pyplot: no GUI backend is touched, nothing is shown, and
    nothing accumulates in pyplot's figure registry.
    """
    fig = Figure(figsize=(figure_width(width), height), layout="constrained")
    FigureCanvasAgg(fig)  # rasterise with Agg whatever backend pyplot uses
    fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, wspace=0.04, hspace=0.04)
    return fig


def parse_formats(formats: str | Iterable[str]) -> list[str]:
    """``"pdf,svg"`` or ``["pdf", "png"]`` -> a checked, de-duplicated list."""
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    out: list[str] = []
    for item in (i.strip().lower().lstrip(".") for i in items):
        if not item:
            continue
        if item not in FORMATS:
            raise ValueError(f"unknown format {item!r}: use any of {','.join(FORMATS)}")
        if item not in out:
            out.append(item)
    if not out:
        raise ValueError(f"no format given: use any of {','.join(FORMATS)}")
    return out


def save_figure(fig: Figure, stem: str | Path, formats: Iterable[str] = FORMATS,
                dpi: int = 300) -> list[Path]:
    """Save ``fig`` as ``stem.<fmt>`` for each format; return the paths written.

    Files are byte-identical for identical figures: no dates, no software version
    in PNG text chunks, fixed SVG ids, TrueType fonts in PDF. Each file is written
    to a temporary name first and then renamed, so no partial file is ever left.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    with mpl.rc_context(SAVE_RC):
        for fmt in parse_formats(list(formats)):
            path = stem.with_name(f"{stem.name}.{fmt}")
            tmp = temp_beside(path)
            try:
                fig.savefig(tmp, format=fmt, dpi=dpi, metadata=METADATA[fmt])
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
            written.append(path)
    return written


def write_text(path: Path, text: str) -> Path:
    """Write a text file atomically (temporary name, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    try:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def luminance(rgba: tuple[float, ...]) -> float:
    """Relative luminance of a colour (to pick black or white text on it)."""
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def panel_grid(n: int, width: str | float) -> tuple[int, int]:
    """Rows and columns for ``n`` square panels at this width."""
    max_cols = 3 if figure_width(width) < 5 else 5
    cols = min(n, max_cols)
    rows = -(-n // cols)
    return rows, cols


def fit_label(text: str, inches: float, points: float = 7.0) -> str:
    """Break ``text`` into lines at ``-``, ``_``, ``/``, ``.`` or spaces so each line fits
    in ``inches`` at ``points`` (a model name over a narrow panel)."""
    per_line = max(6, int(inches * 72 / (0.6 * points)))
    if len(text) <= per_line:
        return text
    lines, current = [], ""
    token = ""
    for ch in text + "\0":
        if ch == "\0" or ch in "-_/. ":
            piece = token + (ch if ch != "\0" else "")
            if current and len(current) + len(piece) > per_line:
                lines.append(current.rstrip())
                current = ""
            current += piece
            token = ""
        else:
            token += ch
    if current:
        lines.append(current.rstrip())
    return "\n".join(lines)
