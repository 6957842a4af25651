"""Baum-Welch's kernels load from numba's disk cache in a new process."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, warnings
import numpy as np, pandas as pd
import emstat
from emstat.hmm import kernels
warnings.simplefilter("ignore")
frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=300)})
emstat.fit_hmm(frame, k=2, columns=["x"], max_iter=2)
chunks = kernels._forward_backward_kernels(2, True)[0]
print(json.dumps([len(chunks.stats.cache_hits), len(chunks.stats.cache_misses)]))
"""


def _cache_counts() -> list[int]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=600
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_new_process_loads_the_specialised_kernels_from_the_cache() -> None:
    _cache_counts()  # compiles, if no earlier process did
    hits, misses = _cache_counts()
    assert (hits, misses) == (1, 0)
