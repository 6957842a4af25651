"""Write ``stderr_seed_study.json``: standard errors of 60 fits of the seed's simulation study.

The study: 1,000 replicates of n = 100 from ``0.5*N(-0.8,1) + 0.5*N(0.8,1)``,
k = 2, model V, seed 1 (``emstat simulate``'s draws and fits).  Of its 998
fits, ``CHOSEN`` keeps 60 of every kind the standard errors meet (see there;
all 6 far along a mean, the first of the others); for each the file records
the data, the fitted parameters and
:func:`emstat.mixture.stderr.wald_std_errors` (standard errors, reason and
information) as the package on ``PYTHONPATH`` computes them.

Run from the repository root: ``PYTHONPATH=. python tests/reference/make_stderr_seed_study.py``.
"""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path

import numpy as np

from emstat.mixture import fit_mixture
from emstat.mixture.stderr import wald_std_errors
from emstat.simulation.design import make_design, mixture_from_formula
from emstat.simulation.replicate import replicate_rng, scenario_setup

FORMULA = "0.5*N(-0.8,1) + 0.5*N(0.8,1)"
# replicates (of the study's 1,000): within reach (observed information), far along a
# variance, along a weight, along a mean, saddles, EM from the fit degenerating
CHOSEN = {
    "observed": [0, 1, 2, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15],
    # 10, 252, 373, 404, 493, 548, 549, 559 and 565 were saddles while the polish's EM
    # stopped at its 5,000-iteration cap there; EM run to convergence (and SQUAREM) goes
    # far from them, along the parameter named: 171 is the study's one saddle left (for
    # the polish's plain EM, capped there; EM run to convergence degenerates)
    "far_variance": [3, 17, 18, 23, 30, 39, 48, 49, 50, 56, 252, 373, 404, 548, 565],
    "far_weight": [19, 27, 35, 54, 65, 72, 75, 78, 80, 90, 10, 493, 549, 559],
    "far_mean": [99, 170, 243, 380, 554, 900],
    "saddle": [171],
    "degenerate": [190, 258, 291, 381, 523, 582, 705, 716, 726, 906],
}


def main() -> None:
    design = make_design(mixture_from_formula(FORMULA), n=100, reps=1000, k=2, model="V", seed=1)
    scenario = design.scenarios()[0]
    setup = scenario_setup(design, scenario)
    wanted = {r: kind for kind, reps in CHOSEN.items() for r in reps}
    cases = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for replicate in sorted(wanted):
            rng, fit_seed = replicate_rng(design.seed, replicate)
            data, _ = setup.truth.draw(scenario.n, rng)
            fit = fit_mixture(
                data,
                scenario.k,
                **setup.truth.fit_arguments(scenario.model),
                init=design.fit.init,
                seed=fit_seed,
                control=setup.control,
                **setup.options,
            )
            x = np.asarray(fit.data_, dtype=float)
            theta = fit.params_
            se, reason, information = wald_std_errors(x, theta, "V")
            cases.append(
                {
                    "replicate": replicate,
                    "kind": wanted[replicate],
                    "x": x[:, 0].tolist(),
                    "weights": theta.weights.tolist(),
                    "means": theta.means[:, 0].tolist(),
                    "variances": theta.covariances[:, 0, 0].tolist(),
                    # the means about the fit's centre, to full precision (GaussianParams)
                    "origin": None if theta.origin is None else theta.origin.tolist(),
                    "local_means": None
                    if theta.local_means is None
                    else theta.local_means[:, 0].tolist(),
                    "std_errors": [None if np.isnan(v) else float(v) for v in se],
                    "reason": reason,
                    "information": information,
                }
            )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    out = {
        "source": (
            f"emstat {commit}: emstat.mixture.stderr.wald_std_errors on fits of the seed study "
            f"({FORMULA}, n = 100, k = 2, model V, seed 1); "
            "tests/reference/make_stderr_seed_study.py"
        ),
        "cases": cases,
    }
    path = Path(__file__).with_name("stderr_seed_study.json")
    rows = ",\n".join(f"  {json.dumps(case)}" for case in cases)
    path.write_text(f'{{\n "source": {json.dumps(out["source"])},\n "cases": [\n{rows}\n ]\n}}\n')


if __name__ == "__main__":
    main()
