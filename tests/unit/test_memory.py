import subprocess
import sys

import pytest

# a process that makes a 64-MB map, frees it, and makes another: the page faults of the second
CHILD = """
import resource, sys
import numpy as np
from weld_anomaly.memory import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "kept" else None
np.ones(2**23).sum()  # 64 MB, made and freed
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
np.ones(2**23).sum()
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _second_map_faults(memory: str) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, memory], capture_output=True, text=True, check=True
    )
    kept, faults = done.stdout.split()
    return kept, int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator (Linux)")
def test_freed_memory_is_reused_not_faulted_in_again():
    kept, faults = _second_map_faults("kept")
    assert kept == "True"
    _, returned = _second_map_faults("returned")
    # 64 MB faulted in again: 32 huge pages or 16,384 small ones; kept: next to none
    assert returned >= 32 and faults < 8, (returned, faults)
