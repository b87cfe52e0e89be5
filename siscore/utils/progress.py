"""One progress bar for every long command: tqdm on stderr, silent when stderr is no terminal.

>>> with progress_bar(total=10, desc="rendering", unit="img") as bar:
...     bar.update(10)

``enabled=False`` (``--quiet``) turns it off; otherwise it shows only when stderr is
a terminal, so logs and CI output get no carriage-return redraws. Bars drawn by other
libraries (weight downloads) take :func:`interactive` as their ``progress`` flag.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress_bar(total: int | None = None, desc: str = "", unit: str = "it", *,
                 enabled: bool = True, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr; disabled when ``enabled`` is false or stderr is not a terminal."""
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                disable=None if enabled else True, **kwargs)


def interactive(enabled: bool = True) -> bool:
    """Whether a library's own bar (torch hub, open_clip, Hugging Face) may draw: ``enabled``
    and stderr a terminal; pass it as that library's ``progress`` flag."""
    return bool(enabled) and sys.stderr.isatty()


def track(items: Iterable[T], total: int | None = None, desc: str = "", unit: str = "it", *,
          enabled: bool = True) -> Iterator[T]:
    """Iterate ``items`` with a :func:`progress_bar`."""
    with progress_bar(total, desc, unit, enabled=enabled) as bar:
        for item in items:
            yield item
            bar.update(1)
