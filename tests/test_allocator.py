"""siscore.allocator: freed image buffers are reused (no page fault per image) in the
processes siscore owns, and a library import leaves the caller's allocator alone."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

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
    # 50 x 16 MB allocated and freed: about 1,000 faults each time when mapped afresh (numpy
    # asks for huge pages), a few hundred in all when reused
    untouched = _faults("import siscore.build, siscore.render, siscore.cli")
    tuned = _faults("from siscore import allocator; assert allocator.tune() and allocator.tune()")
    assert untouched > 50 * 400
    assert tuned < 10 * untouched / 50


def test_command_line_and_workers_are_tuned() -> None:
    code = ("import sys; from siscore import allocator; from siscore.cli import main\n"
            "try:\n    main(['info', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(allocator._tuned)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == "True"
