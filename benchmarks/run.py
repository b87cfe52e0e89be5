"""Run every benchmark (``make bench``). Each prints its own measurements and floors."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["bench_build", "bench_resample", "bench_extract", "bench_backgrounds",
         "bench_backgrounds_model", "bench_evaluate", "bench_score", "bench_scale"]


def main() -> None:
    only = set(sys.argv[1:])
    for name in ORDER:
        if only and name not in only:
            continue
        path = HERE / f"{name}.py"
        if not path.exists():
            continue
        print(f"\n=== {name} ===", flush=True)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        t0 = time.perf_counter()
        module.main([])
        print(f"({name}: {time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
