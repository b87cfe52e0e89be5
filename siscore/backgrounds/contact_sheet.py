"""Contact sheets: every photo as a thumbnail with its decision and reason, to audit a filter run.

Sections in order: kept (green frame, key scores under each), rejected (red
frame, the reasons), duplicates (orange, the copy kept instead), bad input
(grey box, why). Long runs are split into pages of ``per_page`` photos:
``contact_sheet.png``, ``contact_sheet_2.png``, ...
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from siscore.backgrounds.filtering import BAD_INPUT, DUPLICATE, KEPT, REJECTED
from siscore.backgrounds.scan import BadImage, decode
from siscore.backgrounds.scoring import Row

COLOURS = {KEPT: (40, 160, 60), REJECTED: (210, 40, 40), DUPLICATE: (235, 140, 20),
           BAD_INPUT: (120, 120, 120)}
TITLES = {KEPT: "KEPT", REJECTED: "REJECTED", DUPLICATE: "NEAR-DUPLICATES (dropped)",
          BAD_INPUT: "BAD INPUT (not usable)"}
SHORT = {KEPT: "kept", REJECTED: "rejected", DUPLICATE: "near-duplicates", BAD_INPUT: "bad input"}
ORDER = (KEPT, REJECTED, DUPLICATE, BAD_INPUT)
SHEET_NAME = "contact_sheet"


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except Exception:  # Pillow built without FreeType
        return ImageFont.load_default()


def _caption(row: Row, width_chars: int, lines: int) -> list[str]:
    name = str(row["file"])
    if len(name) > width_chars:
        name = name[: width_chars - 1] + "…"
    if row["decision"] == KEPT:
        body = (f"object {float(row['object_contrast']):.1f}  focus {float(row['centre_focus']):.2f}  "
                f"sharp {float(row['sharpness']):.0f}")
    else:
        body = str(row["reason"])
    wrapped = textwrap.wrap(body, width_chars) or [""]
    if len(wrapped) > lines - 1:
        wrapped = wrapped[: lines - 1]
        wrapped[-1] = wrapped[-1][: width_chars - 1] + "…"
    return [name, *wrapped]


def _thumbnail(path: Path, size: int) -> Image.Image | None:
    try:
        rgb, _ = decode(path, size * 2)
    except BadImage:
        return None
    img = Image.fromarray(rgb)
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    return img


def _pages(rows: Sequence[Row], per_page: int) -> list[list[Row]]:
    ordered = [r for d in ORDER for r in sorted((r for r in rows if r["decision"] == d),
                                                 key=lambda r: (str(r["reason"]), str(r["file"])))]
    return [ordered[i:i + per_page] for i in range(0, len(ordered), per_page)] or [[]]


def _save(img: Image.Image, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    img.save(tmp, format="PNG", optimize=False, compress_level=6)
    os.replace(tmp, path)


def write_contact_sheets(
    rows: Sequence[Row], folder: str | Path, out_dir: str | Path, *, title: str = "",
    thumb: int = 180, columns: int = 6, per_page: int = 150, threads: int = 4,
) -> list[Path]:
    """Draw the sheets of a filter run (``rows`` with ``decision`` and ``reason``) into ``out_dir``.

    ``folder`` holds the photos named in ``rows``. Returns the PNG paths written;
    sheets of an earlier, longer run are removed.
    """
    folder, out_dir = Path(folder), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    font, bold = _font(12), _font(16)
    pad, frame, line_h, n_lines = 8, 4, 14, 5
    cell_w, cell_h = thumb + 2 * pad, thumb + 2 * frame + pad + n_lines * line_h + pad
    chars = max(12, (thumb + 2 * frame) // 7)
    width = columns * cell_w + pad
    totals = {d: sum(1 for r in rows if r["decision"] == d) for d in ORDER}
    summary = "   ".join(f"{SHORT[d]}: {totals[d]}" for d in ORDER)
    pages = _pages(rows, per_page)
    written: list[Path] = []
    for number, page in enumerate(pages, start=1):
        # layout: a section header wherever the decision changes, then rows of cells
        y, placed, headers, prev = 70, [], [], None
        col = 0
        for row in page:
            if row["decision"] != prev:
                if col:
                    y += cell_h
                    col = 0
                headers.append((y, row["decision"]))
                y += 28
                prev = row["decision"]
            placed.append((pad + col * cell_w, y, row))
            col += 1
            if col == columns:
                col, y = 0, y + cell_h
        height = y + (cell_h if col else 0) + pad
        sheet = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(sheet)
        page_note = f"   (page {number} of {len(pages)})" if len(pages) > 1 else ""
        draw.text((pad, 10), (title or "siscore backgrounds filter") + page_note, fill="black", font=bold)
        draw.text((pad, 36), summary, fill="black", font=font)
        for hy, decision in headers:
            draw.rectangle((pad, hy + 4, width - pad, hy + 24), fill=COLOURS[decision])
            draw.text((pad + 6, hy + 6), f"{TITLES[decision]} ({totals[decision]})", fill="white", font=font)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            thumbs = list(pool.map(lambda p: _thumbnail(folder / str(p[2]["file"]), thumb)
                                   if p[2]["decision"] != BAD_INPUT else None, placed))
        for (x, cy, row), img in zip(placed, thumbs):
            colour = COLOURS[row["decision"]]
            box = (x, cy, x + thumb + 2 * frame - 1, cy + thumb + 2 * frame - 1)
            draw.rectangle(box, fill=colour)
            if img is None:
                draw.rectangle((x + frame, cy + frame, x + frame + thumb - 1, cy + frame + thumb - 1),
                               fill=(225, 225, 225))
                draw.text((x + frame + 8, cy + thumb // 2), "no preview", fill=(90, 90, 90), font=font)
            else:
                ox = x + frame + (thumb - img.width) // 2
                oy = cy + frame + (thumb - img.height) // 2
                draw.rectangle((x + frame, cy + frame, x + frame + thumb - 1, cy + frame + thumb - 1),
                               fill=(250, 250, 250))
                sheet.paste(img, (ox, oy))
            ty = cy + thumb + 2 * frame + 3
            for k, text in enumerate(_caption(row, chars, n_lines)):
                draw.text((x, ty + k * line_h), text, fill="black" if k == 0 else colour, font=font)
        path = out_dir / (f"{SHEET_NAME}.png" if number == 1 else f"{SHEET_NAME}_{number}.png")
        _save(sheet, path)
        written.append(path)
    for stale in out_dir.glob(f"{SHEET_NAME}_*.png"):
        if stale not in written:
            stale.unlink()
    return written
