"""The exception root and the errors that name what the user passed.

Every error siscore raises on bad input (a config, assets, a dataset, predictions, a model,
a download, a report) is a :class:`SiscoreError`, so one ``except siscore.SiscoreError``
catches them all and the command line prints any of them as one line.

``str(exc)`` names the API parameter (``foregrounds='fg': folder does not exist``);
:func:`siscore.cli.common.cli_message` names the command-line option instead
(``--foregrounds fg: folder does not exist``).
"""

from __future__ import annotations

import errno
from os import PathLike
from pathlib import Path
from typing import Any


def _shown(value: Any) -> str:
    return repr(str(value)) if isinstance(value, PathLike) else repr(value)


class SiscoreError(Exception):
    """The root of every error siscore raises on bad input; ``str(exc)`` is one line for
    the user (the file, row or option, and the fix)."""

    def cli_message(self) -> str:
        """The message as the command line prints it."""
        return str(self)


class ParamError(SiscoreError, ValueError):
    """A bad value of one parameter; ``param``/``option`` name it, ``detail`` says what is wrong."""

    def __init__(self, detail: str, *, param: str | None = None, value: Any = None,
                 option: str | None = None) -> None:
        self.detail, self.param, self.value = detail, param, value
        self.option = option or (f"--{param.replace('_', '-')}" if param else None)
        super().__init__(f"{param}={_shown(value)}: {detail}" if param else detail)

    def cli_message(self) -> str:
        """The message as the command line says it: the option, then the value."""
        if self.option is None:
            return self.detail
        value = "" if self.value is None else f" {self.value}"
        return f"{self.option}{value}: {self.detail}"


class UsageError(ParamError):
    """Parameters that do not go together, or one that is missing (the command line exits
    with status 2, as for any usage error)."""


class ConfigError(ParamError):
    """A grid or build configuration that cannot be used (raised before any work)."""


def write_failed(target: Path, exc: OSError, option: str = "--out") -> str:
    """One line for a failed write that left nothing partial: which path, why, and what to
    do about ``option``."""
    where = exc.filename or target
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return (f"{where}: no space left (disk full or file size limit); free some space or "
                f"give {option} on another disk. Nothing partial was left.")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{where}: not writable ({exc.strerror}); give {option} in a folder you can write."
    return f"{where}: cannot write ({exc.strerror or exc}); give another {option}."
