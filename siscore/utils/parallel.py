"""One parallel layer for every CPU stage (build, extract, backgrounds), on joblib.

:func:`run_tasks` runs ``func(shared, task)`` for every task and yields
``(index, result)`` as tasks complete (or in task order with ``ordered``):

- ``scheduler=None``: ``jobs`` local processes (joblib's loky backend). Loky
  starts workers from a clean interpreter (fork + exec), never by forking the
  caller, so a notebook that already started OpenCV or torch thread pools
  cannot deadlock them; it does not re-run the caller's script either.
- ``"local:N"``: a Dask ``LocalCluster`` of N single-threaded worker processes.
- ``"tcp://host:8786"`` (any Dask address): the workers of that Dask cluster.
- ``"joblib:NAME"``: any registered joblib backend (e.g. ``ray`` after
  ``ray.util.joblib.register_ray()``), with ``jobs`` workers.
- a ``distributed.Client``: its cluster (Python API only).

Tasks must be idempotent (write atomically, skip what exists): a worker that is
lost mid-task has its tasks run again elsewhere (Dask does this itself; with
local processes the unfinished tasks are resubmitted to a fresh pool), and a
killed client resumes from what its tasks left on disk.

Worker-side state that is expensive to build (a renderer and its caches) lives
in :func:`worker_state`, keyed by a token of the shared object: each worker
process (or thread) keeps only the latest one, so memory per worker stays
bounded and tasks of one build reuse a warm cache.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

from siscore.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])

#: How often the tasks of a lost local worker are resubmitted before giving up.
LOCAL_RETRIES = 2
#: How long to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT = "10s"


class ParallelError(ConfigError):
    """A scheduler that cannot be used; the message names the option and the fix."""


# -- worker side ----------------------------------------------------------------------------
_LOCAL = threading.local()
_DEFAULT: ContextVar[tuple[Any, str]] = ContextVar("siscore_scheduler", default=(None, "--scheduler"))


def worker_state(token: str, make: Callable[[], Any]) -> Any:
    """The state for ``token`` in this worker: made once, dropping any other token's state."""
    if getattr(_LOCAL, "token", None) != token:
        _LOCAL.token, _LOCAL.state = None, None  # free the old state before making the new one
        _LOCAL.state = make()
        _LOCAL.token = token
    return _LOCAL.state


def _indexed(func: Callable[[Any, Any], Any], shared: Any, index: int, task: Any) -> tuple[int, Any]:
    return index, func(shared, task)


# -- scheduler option -----------------------------------------------------------------------
def describe(scheduler: Any) -> str:
    """The scheduler as the option spells it (for messages)."""
    return scheduler if isinstance(scheduler, str) else type(scheduler).__name__


def check_scheduler(scheduler: Any, option: str = "--scheduler") -> None:
    """Refuse a malformed scheduler before any work starts."""
    if scheduler is None or not isinstance(scheduler, str):
        if scheduler is not None and not hasattr(scheduler, "scheduler_info"):
            raise ParallelError(f"{option}: expected an address or a distributed.Client, "
                                f"got {type(scheduler).__name__}")
        return
    if scheduler.startswith("local:"):
        n = scheduler[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise ParallelError(f"{option} {scheduler!r}: write local:N with N >= 1 worker processes")
    elif scheduler.startswith("joblib:"):
        from joblib.parallel import BACKENDS

        name = scheduler[len("joblib:"):]
        if name not in BACKENDS:
            raise ParallelError(f"{option} {scheduler!r}: joblib has no backend {name!r} "
                                f"(registered: {', '.join(sorted(BACKENDS))})")
    elif "://" not in scheduler:
        raise ParallelError(f"{option} {scheduler!r}: give a Dask scheduler address "
                            "(tcp://host:8786), local:N, or joblib:BACKEND")


def is_parallel(jobs: int, scheduler: Any, n_tasks: int) -> bool:
    """Whether ``n_tasks`` tasks go to workers (else they run in this process)."""
    scheduler = scheduler if scheduler is not None else _DEFAULT.get()[0]
    return n_tasks > 0 and (scheduler is not None or (jobs > 1 and n_tasks > 1))


def _import(modules: Sequence[str]) -> None:
    import importlib

    for module in modules:
        importlib.import_module(module)


def _warm(jobs: int, modules: Sequence[str]) -> None:
    from joblib import Parallel, delayed, parallel_config

    with contextlib.suppress(Exception), parallel_config(backend="loky"):  # the run reports errors
        Parallel(n_jobs=jobs, batch_size=1)(delayed(_import)(modules) for _ in range(jobs))


@contextlib.contextmanager
def warming(jobs: int, scheduler: Any = None, modules: Sequence[str] = ()) -> Iterator[None]:
    """Start the local worker processes, importing ``modules``, in the background while the
    caller prepares its tasks (scans assets, plans): :func:`run_tasks` then finds them
    ready. Nothing happens with one job or another scheduler."""
    if jobs < 2 or _current(scheduler, "")[0] is not None:
        yield
        return
    thread = threading.Thread(target=_warm, args=(jobs, tuple(modules)), daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


# -- the main-module guard ------------------------------------------------------------------
def _guarded_lines(tree: ast.Module) -> list[tuple[int, int]]:
    spans = []
    for node in tree.body:
        if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test) \
                and "__main__" in ast.unparse(node.test):
            spans.append((node.lineno, node.end_lineno or node.lineno))
    return spans


def check_main_guard(option: str) -> None:
    """Refuse to start worker processes from a script's top-level code outside
    ``if __name__ == "__main__":``: workers that import the script would run it again."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path or not os.path.isfile(path):
        return
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_code.co_name == "<module>"
                                     and frame.f_globals is main.__dict__):
        frame = frame.f_back
    if frame is None:
        return  # not called from the script's top level (e.g. from a function it calls later)
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return
    line = frame.f_lineno
    if not any(a <= line <= b for a, b in _guarded_lines(tree)):
        raise ParallelError(
            f"{path}:{line}: starts worker processes ({option}) from the script's top level without "
            "`if __name__ == \"__main__\":`; put the call under that guard (workers import the "
            "script and would run it again)")


@contextlib.contextmanager
def _main_importable() -> Iterator[None]:
    """Hide a ``__main__.__file__`` that is no file (``python -``, some REPLs) while
    multiprocessing starts workers: they would otherwise try to run it."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    bogus = path is not None and not os.path.isfile(path)
    if bogus:
        del main.__file__
    try:
        yield
    finally:
        if bogus:
            main.__file__ = path


# -- engines --------------------------------------------------------------------------------
@contextlib.contextmanager
def _dask_client(scheduler: Any, option: str) -> Iterator[Any]:
    from siscore.utils.extras import require

    distributed = require("distributed", f"{option} {describe(scheduler)}", error=ParallelError)
    Client, LocalCluster = distributed.Client, distributed.LocalCluster
    if not isinstance(scheduler, str):
        yield scheduler
        return
    if scheduler.startswith("local:"):
        check_main_guard(f"{option} {scheduler}")
        with _main_importable(), contextlib.redirect_stdout(sys.stderr):
            cluster = LocalCluster(n_workers=int(scheduler[6:]), threads_per_worker=1,
                                   processes=True, dashboard_address=":0")
        with cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ParallelError(
            f"{option} {scheduler}: cannot reach the Dask scheduler ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no answer'}); start one with "
            "`dask scheduler` and check the address and port") from None
    with client:
        yield client


def _uses_dask(scheduler: Any) -> bool:
    return scheduler is not None and not (isinstance(scheduler, str) and scheduler.startswith("joblib:"))


@contextlib.contextmanager
def connect(scheduler: Any, option: str = "--scheduler") -> Iterator[Any]:
    """Connect to (or start) the scheduler once, before any output is written; yields what
    to pass to :func:`run_tasks` as ``scheduler`` (a ``distributed.Client`` for Dask)."""
    check_scheduler(scheduler, option)
    if not _uses_dask(scheduler) or not isinstance(scheduler, str):
        yield scheduler
        return
    with _dask_client(scheduler, option) as client:
        yield client


def connected(option: str = "--scheduler") -> Callable[[F], F]:
    """Decorate a stage's entry point taking ``scheduler=``: the scheduler is reached (or the
    local cluster started) before the stage writes anything, and closed when it returns."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            scheduler = kwargs.get("scheduler")
            if scheduler is None or kwargs.get("dry_run"):
                return fn(*args, **kwargs)
            with connect(scheduler, option) as engine:
                return fn(*args, **{**kwargs, "scheduler": engine})

        return run  # type: ignore[return-value]

    return wrap


@contextlib.contextmanager
def scheduling(scheduler: Any, option: str = "--scheduler") -> Iterator[None]:
    """Run every stage called inside on ``scheduler`` (connected once, on entry)::

        with scheduling("tcp://host:8786"):
            extract_openimages(...)
    """
    if scheduler is None:
        yield
        return
    with connect(scheduler, option) as engine:
        token = _DEFAULT.set((engine, option))
        try:
            yield
        finally:
            _DEFAULT.reset(token)


def _current(scheduler: Any, option: str) -> tuple[Any, str]:
    return (scheduler, option) if scheduler is not None else _DEFAULT.get()


def _parallel(jobs: int, scheduler: Any, client: Any, shared: Any) -> Any:
    from joblib import Parallel, parallel_config

    if client is not None:
        # the shared object travels to the workers once, not with every task
        config = parallel_config(backend="dask", wait_for_workers_timeout=30,
                                 **({"scatter": [shared]} if shared is not None else {}))
        n_jobs = -1
    elif isinstance(scheduler, str) and scheduler.startswith("joblib:"):
        config, n_jobs = parallel_config(backend=scheduler[len("joblib:"):]), jobs
    else:
        config, n_jobs = parallel_config(backend="loky"), jobs
    return config, Parallel(n_jobs=n_jobs, batch_size=1, return_as="generator_unordered")


def run_tasks(
    func: Callable[[Any, Any], Any],
    tasks: Sequence[Any],
    shared: Any = None,
    *,
    jobs: int = 1,
    scheduler: Any = None,
    ordered: bool = False,
    option: str = "--scheduler",
) -> Iterator[tuple[int, Any]]:
    """Yield ``(i, func(shared, tasks[i]))`` for every task, as tasks complete.

    ``func`` must be a module-level function (workers import it). With ``ordered``,
    results come in task order (held back until their predecessors are done).
    """
    scheduler, option = _current(scheduler, option)
    check_scheduler(scheduler, option)
    if not is_parallel(jobs, scheduler, len(tasks)):
        try:
            for i, task in enumerate(tasks):
                yield i, func(shared, task)
        finally:
            _LOCAL.token, _LOCAL.state = None, None  # this process keeps no worker cache
        return
    if ordered:
        held: dict[int, Any] = {}
        nxt = 0
        for i, result in run_tasks(func, tasks, shared, jobs=jobs, scheduler=scheduler, option=option):
            held[i] = result
            while nxt in held:
                yield nxt, held.pop(nxt)
                nxt += 1
        return
    from joblib import delayed
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    uses_dask = _uses_dask(scheduler)
    done: set[int] = set()
    with _dask_client(scheduler, option) if uses_dask else contextlib.nullcontext() as client:
        for attempt in range(LOCAL_RETRIES + 1):
            todo = [i for i in range(len(tasks)) if i not in done]
            if not todo:
                return
            config, parallel = _parallel(jobs, scheduler, client, shared)
            try:
                with config:
                    for i, result in parallel(delayed(_indexed)(func, shared, i, tasks[i]) for i in todo):
                        done.add(i)
                        yield i, result
                return
            except TerminatedWorkerError as exc:  # a lost local worker: resubmit what is left
                if attempt == LOCAL_RETRIES:
                    raise ParallelError(f"worker processes keep dying ({str(exc).splitlines()[0]}); "
                                        "check memory (lower --jobs) and the system log") from None
            except ImportError as exc:
                raise ParallelError(
                    f"{option} {describe(scheduler) if scheduler is not None else '(local)'}: a worker "
                    f"cannot import what the tasks need ({exc}); install siscore and your plugin "
                    "modules on every worker") from None
