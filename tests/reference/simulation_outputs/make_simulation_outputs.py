"""Write the replicate (and selection) tables of a few small studies, as the code of the
time computes them: the reference of tests/simulation/test_sim_outputs_unchanged.py.

Run from the repository root:
``python tests/reference/simulation_outputs/make_simulation_outputs.py``.
The ``seconds`` column is dropped (it is a timing).  The designs are in ``DESIGNS``
of the test module, which this script imports.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from emstat.simulation import simulate  # noqa: E402
from tests.simulation.test_sim_outputs_unchanged import DESIGNS  # noqa: E402


def main() -> None:
    for name, arguments in DESIGNS.items():
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "study"
            simulate(**arguments, out_dir=out, workers=1)
            rows = pd.read_parquet(out / "replicates.parquet").drop(columns="seconds")
            rows.to_parquet(HERE / f"{name}_replicates.parquet", index=False)
            selection = out / "selection.parquet"
            if selection.exists():
                pd.read_parquet(selection).to_parquet(
                    HERE / f"{name}_selection.parquet", index=False
                )


if __name__ == "__main__":
    main()
