"""A real 'disk full' for subprocess tests: a file-size limit (RLIMIT_FSIZE) in the child."""

from __future__ import annotations

from collections.abc import Callable


def limit_file_size(limit: int) -> Callable[[], None]:
    """A ``preexec_fn`` capping every file the child writes at ``limit`` bytes: writes past
    it fail with EFBIG, as on a full disk (SIGXFSZ is ignored so they fail instead of killing)."""
    def apply() -> None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply
