"""Gallery pages as HTML, and their thumbnails: plain files in the report folder that open
offline (no script, no remote resource; links relative, starting with ``./``)."""

from __future__ import annotations

import html
import io
import urllib.parse

from PIL import Image

from siscore import __version__
from siscore.report.gallery import CellView, Guess, Page, Shot

THUMB_PX = 224  # the longest side of a thumbnail
QUALITY = 85

CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1em; margin: 1.2em 0 0.3em; } .meta { color: #555; font-size: 0.9em; }
.shots { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr));
         gap: 10px; }
figure { margin: 0; padding: 4px; border: 3px solid #ccc; border-radius: 4px; }
figure.right { border-color: #2e7d32; } figure.wrong { border-color: #c62828; }
figure.mixed { border-color: #f9a825; }
figure img { width: 100%; height: auto; display: block; }
figcaption { font-size: 0.8em; line-height: 1.3; } ol { margin: 0.2em 0; padding-left: 1.4em; }
.ok { color: #2e7d32; font-weight: bold; } .no { color: #c62828; font-weight: bold; }
li.hit { font-weight: bold; }
"""


def thumbnail(image: Image.Image) -> bytes:
    """A JPEG at most :data:`THUMB_PX` pixels on its longest side (same bytes every run)."""
    image = image.copy()
    image.thumbnail((THUMB_PX, THUMB_PX), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=QUALITY)
    return buf.getvalue()


def image_href(folder: str, image_id: int) -> str:
    """The link from a page to a thumbnail in ``folder`` (beside the page)."""
    return f"./{urllib.parse.quote(folder)}/{int(image_id)}.jpg"


def _guess(guess: Guess, several: bool) -> str:
    mark = '<span class="ok">right</span>' if guess.right else '<span class="no">wrong</span>'
    items = "".join(f'<li class="{"hit" if ok else ""}">{html.escape(name)}</li>'
                    for name, ok in zip(guess.top, guess.valid, strict=False))
    who = f"{html.escape(guess.model)}: " if several else ""
    return f"<div>{who}{mark}<ol>{items}</ol></div>"


def _shot(shot: Shot, folder: str) -> str:
    rights = {g.right for g in shot.guesses}
    cls = "right" if rights == {True} else "wrong" if rights == {False} else "mixed"
    alt = f"image {shot.image_id}: {shot.label}"
    several = len(shot.guesses) > 1
    return (f'<figure class="{cls}"><img src="{html.escape(image_href(folder, shot.image_id))}" '
            f'alt="{html.escape(alt)}"><figcaption>image {shot.image_id}, '
            f"true: <b>{html.escape(shot.label)}</b>"
            + "".join(_guess(g, several) for g in shot.guesses) + "</figcaption></figure>")


def _cell(cell: CellView, folder: str) -> str:
    shots = "".join(_shot(s, folder) for s in cell.shots) or "<p>No image with a prediction.</p>"
    return (f"<h3>{html.escape(cell.heading)}: {html.escape(cell.stats)}</h3>"
            f'<p class="meta">{html.escape(cell.shown)}</p><div class="shots">{shots}</div>')


def render_gallery(page: Page, folder: str, back: str = "./index.html") -> str:
    """HTML text of a gallery page whose thumbnails lie in ``folder`` beside it."""
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{html.escape(page.title)}</title>", f"<style>{CSS}</style>", "</head>",
             "<body>", f'<p><a href="{html.escape(back)}">&larr; report</a></p>',
             f"<h1>{html.escape(page.title)}</h1>",
             f'<p class="meta">{html.escape(page.intro)} Each image: its id, the true label '
             "and each model's top-5 (a right answer in bold; the frame is green when right, "
             f"red when wrong). Written by siscore {html.escape(__version__)}.</p>"]
    for heading, cells in page.sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts += [_cell(c, folder) for c in cells] or ["<p>No cell.</p>"]
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)
