"""The driver shared by the three sources: resume, parallel pixel work, final files.

Candidates are grouped by image (one decode per photo); with ``jobs > 1`` the
images are packed into tasks of about 16 objects for the joblib workers.
Results come back in input order and are journalled as they arrive, so the
outcome does not depend on ``jobs`` and an interrupted run resumes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from siscore.extract.masks import close_zips
from siscore.extract.records import INFO_COLUMNS, Candidate, ExtractError
from siscore.extract.report import ExtractResult
from siscore.extract.worker import Context, process_image
from siscore.extract.writer import Library
from siscore.utils.parallel import is_parallel, run_tasks
from siscore.utils.progress import progress_bar

FORMAT_VERSION = 1
TASK_OBJECTS = 16  # objects per worker task with --jobs > 1 (amortises the dispatch); 1 image otherwise


def options_fingerprint(ctx: Context) -> dict[str, Any]:
    """The options that change a worker's result; a resumed OUT must have been made with them."""
    gates = ctx.gates.to_dict()
    gates.pop("min_predicted_iou")  # decided while reading, re-evaluated on every run
    return {"format": FORMAT_VERSION, "gates": gates, "cleaning": asdict(ctx.cleaning),
            "size_tol": ctx.size_tol, "grabcut_iters": ctx.grabcut_iters,
            "grabcut_margin": ctx.grabcut_margin}


def _tasks(cands: list[Candidate], per_task: int = TASK_OBJECTS) -> list[list[list[Candidate]]]:
    """Candidates grouped by image, and the images packed into tasks of ~``per_task`` objects."""
    by_image: dict[str, list[Candidate]] = {}
    for c in cands:
        by_image.setdefault(c.image_file, []).append(c)
    tasks: list[list[list[Candidate]]] = [[]]
    for group in by_image.values():
        if tasks[-1] and sum(map(len, tasks[-1])) + len(group) > per_task:
            tasks.append([])
        tasks[-1].append(group)
    return [t for t in tasks if t]


def _process_task(ctx: Context, task: list[list[Candidate]]) -> list[dict[str, str]]:
    return [row for group in task for row in process_image(group, ctx)]


def _results(tasks: list[list[list[Candidate]]], ctx: Context, jobs: int
             ) -> Iterator[list[dict[str, str]]]:
    # pool section: siscore.utils.parallel (local processes, or the scheduler of siscore.utils.parallel.scheduling)
    for _, rows in run_tasks(_process_task, tasks, ctx, jobs=jobs, ordered=True):
        yield rows


def run(source: str, cands: list[Candidate], aggregates: list[dict[str, str]], notes: list[str],
        ctx: Context, *, jobs: int = 1, progress: bool = True) -> ExtractResult:
    """Decide every candidate (reusing an earlier run's decisions) and write the library."""
    if jobs < 1:
        raise ExtractError(f"--jobs {jobs}: must be at least 1")
    t0 = time.perf_counter()
    lib = Library(ctx.out)
    lib.open(options_fingerprint(ctx))
    keys: list[str] = []
    seen: set[str] = set()
    early, todo, refresh = [], [], []
    for c in cands:
        if c.key in seen:
            row = c.report_row("duplicate", f"{c.row}: same {c.key} as an earlier row")
            row["key"] = f"{c.key}~{c.row}"
            early.append(row)
            keys.append(row["key"])
            continue
        seen.add(c.key)
        keys.append(c.key)
        if c.reason:
            early.append(c.report_row())
        elif lib.done(c.key):
            old = lib.rows[c.key]
            if c.info and any(old[k] != c.info.get(k, "") for k in INFO_COLUMNS):
                refresh.append({**old, **{k: c.info.get(k, "") for k in INFO_COLUMNS}})
        else:
            todo.append(c)
    lib.record(early + aggregates + refresh)
    keys += [r["key"] for r in aggregates]
    bar = None
    if progress and todo:
        bar = progress_bar(len(todo), f"extract {source}", "obj", smoothing=0.1)
    t_work = time.perf_counter()
    try:
        per_task = TASK_OBJECTS if is_parallel(jobs, None, len(todo)) else 1
        for rows in _results(_tasks(todo, per_task), ctx, jobs):
            lib.record(rows)
            if bar is not None:
                bar.update(len(rows))
    finally:
        close_zips()
        if bar is not None:
            bar.close()
    work_s = time.perf_counter() - t_work
    lib.finalize()
    rows = [lib.rows[k] for k in keys]
    return ExtractResult(Path(ctx.out), source, rows, processed=len(todo),
                         resumed=len(cands) - len(todo) - len(early), notes=notes,
                         seconds=work_s if todo else time.perf_counter() - t0)
