"""siscore.generate.allocator: freed image buffers are reused (no page fault per image) in the
processes siscore owns (build, its workers, siscore evaluate's data-loader workers), and a
library call or a DataLoader of one's own leaves the allocator alone."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="glibc only")

LOOP = """
import resource, numpy as np
{setup}
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):  # warm up: the heap grows once
    a = np.ones(8 << 20, np.uint8); del a
before = faults()
for _ in range(50):
    a = np.ones(8 << 20, np.uint8); b = a + 1; del a, b
print(faults() - before)
"""


def _faults(setup: str) -> int:
    out = subprocess.run([sys.executable, "-c", LOOP.format(setup=setup)], capture_output=True,
                         text=True, check=True)
    return int(out.stdout.split()[-1])


def test_tuned_process_reuses_freed_buffers() -> None:
    # 50 x 16 MB allocated and freed: 300-1,000 faults each time when mapped afresh (fewer
    # when the kernel has huge pages to give), a few hundred in all when reused
    untouched = _faults("import siscore.generate.build, siscore.generate.render, siscore.cli")
    tuned = _faults("from siscore.generate import allocator; assert allocator.tune() and allocator.tune()")
    assert untouched > 50 * 100
    assert tuned * 10 < untouched


def _tuned_after(code: str) -> bool:
    out = subprocess.run([sys.executable, "-c", code + "\nfrom siscore.generate import allocator\nprint(allocator._tuned)"],
                         capture_output=True, text=True, check=True, cwd=REPO)
    return out.stdout.split()[-1] == "True"


def test_build_command_is_tuned(tmp_path) -> None:
    build = ("from siscore.cli import main\n"
             f"main(['build', '--subset', 'size', '--dry-run', '--out', {str(tmp_path / 'ds')!r}],"
             " standalone_mode=False)")
    assert _tuned_after(build)


RENDERED = (
    "import torch, torch.utils.data as tud\n"
    "from siscore import Grid\nfrom siscore.generate import allocator\n"
    "from siscore.evaluate.data import RenderedDataset\n"
    "ds = RenderedDataset.from_grid(Grid(resolution=[(64, 64)]))\n"
)


def test_a_users_data_loader_over_rendered_images_is_left_alone() -> None:
    # the worker of a DataLoader of one's own renders, and keeps glibc's settings; so does
    # the process that renders in a library call
    code = RENDERED + (
        "def worker_tuned(batch): return allocator._tuned\n"
        "assert set(tud.DataLoader(ds, batch_size=1, num_workers=1, collate_fn=worker_tuned,"
        " multiprocessing_context='fork')) == {False}\n"
        "ds.render(0)\n"
    )
    assert not _tuned_after(code)


def test_siscore_evaluates_on_the_fly_with_tuned_workers_only() -> None:
    # siscore evaluate's own data-loader workers render with the tuned allocator (the
    # transform, run in the worker, reports it); the process that called evaluate is not tuned
    code = RENDERED + (
        "from siscore.evaluate import evaluate\n"
        "from tests.tiny_model import TinyNet\n"
        "def flag(img): return torch.full((3, 8, 8), float(allocator._tuned))\n"
        "seen = []\n"
        "net = TinyNet()\n"
        "net.register_forward_hook(lambda m, args, out: seen.append(args[0].flatten().unique().tolist()))\n"
        "evaluate(net, flag, ds, None, name='tiny', workers=1, batch_size=4, progress=False)\n"
        "assert seen and all(v == [1.0] for v in seen), seen\n"
    )
    assert not _tuned_after(code)


def test_library_calls_leave_the_callers_allocator_alone(tmp_path) -> None:
    code = ("from siscore import Grid, build\n"
            f"build(Grid(resolution=[(64, 64)]), {str(tmp_path / 'ds')!r}, progress=False)")
    assert not _tuned_after(code)
