"""Regenerate the example reports in this folder: faithful, sim, crimes and deaths.

    python reports/make_reports.py            # writes reports/*.qmd (+ figures) only
    python reports/make_reports.py out/ --render   # writes and renders HTML + PDF into out/

Each ``.qmd`` is a Quarto document an analyst can copy and edit; render it
with ``quarto render faithful.qmd`` or, without Quarto, ``emstat report
faithful.qmd`` (pandoc and Typst from PyPI).  The simulation example is built
from a small synthetic study directory (``sim1/``) written by
``tests/report/_fixtures.py``, or from a real ``emstat simulate`` output
passed with ``--sim-dir``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent


def make_reports(out_dir: Path, render: bool = False, sim_dir: Path | None = None) -> list[Path]:
    """Write faithful.qmd, sim.qmd, crimes.qmd and deaths.qmd into ``out_dir`` (and render them).

    Each replaces the file of the same name (``overwrite=True``): these are
    the examples kept in the repository, regenerated on purpose.
    """
    import emstat
    from emstat.report import report

    formats = ["html", "pdf"] if render else []
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    faithful = emstat.load_dataset("faithful")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emstat.ConvergenceWarning)
        selection = emstat.select_mixture(faithful, k=range(1, 10), seed=0)
    written += report(
        selection,
        out_dir / "faithful.qmd",
        formats=formats,
        overwrite=True,
        data=faithful,
        data_name="Old Faithful (data/faithful.csv)",
        seed=0,
        command="emstat select data/faithful.csv --k 1:9 --report faithful.html --pdf",
    )

    if sim_dir is None:
        sys.path.insert(0, str(HERE.parent / "tests" / "report"))
        from _fixtures import make_simulation_dir

        sim_dir = make_simulation_dir(out_dir / "sim1")
    written += report(
        sim_dir, out_dir / "sim.qmd", formats=formats, overwrite=True, title="Simulation study"
    )

    crimes = emstat.load_dataset("crimes")
    saturated = emstat.fit_categorical(crimes, counts="N")
    independence = emstat.fit_categorical(crimes, counts="N", margins=[["V1"], ["V2"]])
    written += report(
        (saturated, independence),
        out_dir / "crimes.qmd",
        formats=formats,
        overwrite=True,
        data_name="crimes (data/crimes.csv)",
    )

    # EM crawls on these data: the default tolerance stops about 2 log-likelihood units short
    deaths = emstat.load_dataset("deaths")
    fit = emstat.fit_mixture(
        deaths, k=2, family="poisson", columns=["deaths"], weights="days", tol=1e-10
    )
    written += report(
        fit,
        out_dir / "deaths.qmd",
        formats=formats,
        overwrite=True,
        data_name="deaths (data/deaths.csv)",
    )
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=HERE)
    parser.add_argument("--render", action="store_true", help="also render HTML and PDF")
    parser.add_argument("--sim-dir", type=Path, default=None)
    args = parser.parse_args()
    for path in make_reports(args.out_dir, args.render, args.sim_dir):
        print(path)
