"""Names from a server (S3 keys) or an archive (zip members) are untrusted: the checks.

A name becomes a path only when it is relative, has no ``..`` component, no NUL,
and no component longer than the file system takes (255 bytes, less the
``.part`` suffix where a download appends one); and the path it gives, once
resolved, stays inside its folder. A set of names must also fit one folder tree:
``zebra`` and ``zebra/z.png`` cannot both be files, nor two keys the same file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

#: Longest file-name component (bytes) most file systems take.
NAME_MAX = 255
#: Longest path (bytes) the OS takes.
PATH_MAX = 4096
#: Suffix of a file being downloaded (resumed by the next run).
PART = ".part"


def unsafe_reason(name: str, name_max: int = NAME_MAX) -> str | None:
    """Why ``name`` (``/``- or ``\\``-separated) cannot be a relative path inside a folder,
    or None when it can."""
    text = name.replace("\\", "/")
    if not text.strip("/"):
        return "empty name"
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        return "absolute path"
    if "\x00" in text:
        return "NUL in the name"
    parts = PurePosixPath(text).parts
    if ".." in parts:
        return "'..' in the path"
    longest = max(len(os.fsencode(p)) for p in parts)
    if longest > name_max:
        return f"a name component of {longest} bytes (at most {name_max})"
    return None


def relative(name: str) -> str:
    """The normalised relative path of a safe name: ``a//b/./c`` -> ``a/b/c``."""
    return PurePosixPath(name.replace("\\", "/")).as_posix()


def resolves_outside(root: Path, rel: str, resolved_parents: dict[Path, Path] | None = None
                   ) -> str | None:
    """Why ``root/rel`` is not a path inside ``root`` once resolved (a symbolic link on the
    way, an over-long path), or None. ``root`` must be resolved; ``resolved_parents`` caches
    the resolved folders across calls (many files share one)."""
    target = root / rel
    if len(os.fsencode(str(target))) + len(PART) >= PATH_MAX:
        return f"a path of more than {PATH_MAX} bytes"
    cache = {} if resolved_parents is None else resolved_parents
    parent = cache.get(target.parent)
    if parent is None:
        parent = cache[target.parent] = target.parent.resolve()
    resolved = parent / target.name
    if resolved.is_symlink():
        resolved = resolved.resolve()
    if root not in resolved.parents:
        link = " (a symbolic link on the way)" if resolved != target else ""
        return f"resolves outside {root}{link}"
    return None


def in_the_way(root: Path, rel: str, folder: bool = False) -> str | None:
    """What already under ``root`` keeps a file (or with ``folder`` a folder) from being
    made at ``rel``, or None."""
    target = root / rel
    if not folder and target.is_dir():
        return f"{target} is a folder, where the download puts a file"
    for parent in list(target.parents)[:len(PurePosixPath(rel).parts) - 1]:
        if parent.exists() and not parent.is_dir():
            return f"{parent} is a file, where the download needs a folder"
    if folder and target.exists() and not target.is_dir():
        return f"{target} is a file, where the download needs a folder"
    return None


def clashes(names: Iterable[tuple[str, str]], *, parts: bool = False) -> dict[str, str]:
    """Names that cannot all be written into one folder tree, each with the reason: a file
    that is also the folder of another (``a`` and ``a/b``: the second is named), two names
    that are one path (``a//b`` and ``a/b``), and with ``parts`` a file named as another's
    ``.part``. ``names`` are ``(name, normalised relative path)``; a path ending in ``/``
    is a folder. The same name twice (a zip's later copy) is no clash."""
    out: dict[str, str] = {}
    owner: dict[str, str] = {}
    pairs = list(names)
    for name, rel in pairs:
        if not rel.endswith("/") and owner.setdefault(rel, name) != name:
            out[name] = f"the same path as {owner[rel]!r}"
    for name, rel in pairs:
        if parts and rel.endswith(PART) and rel[:-len(PART)] in owner:
            out.setdefault(name, f"its path is where {owner[rel[:-len(PART)]]!r} is downloaded to")
        folders = [p.as_posix() for p in list(PurePosixPath(rel).parents)[:-1]]
        if rel.endswith("/"):
            folders.insert(0, rel.rstrip("/"))
        for folder in folders:
            if folder in owner:
                out.setdefault(name, f"{owner[folder]!r} is a file, so it cannot be a folder too")
                break
    return out


#: Files a download keeps in its output folder (no key or zip member may land on them).
MANIFEST = ".siscore-download.jsonl"
LOCK = ".siscore-download.lock"
RESERVED = frozenset({MANIFEST, LOCK, LOCK + ".pid", MANIFEST + PART, LOCK + PART})
