"""Regenerate ``known_labels_{iris,banknote}.{csv,json}`` from R's mclust ``MclustSSC``.

Run from the repository root with R, mclust and rpy2 installed::

    PYTHONPATH=. python tests/reference/make_known_labels_reference.py

The data are R's own (``datasets::iris``, ``mclust::banknote``), written to
CSV with 17 significant digits.  A fixed 10% of the rows keep their class:
``numpy.random.default_rng(SEED).choice(n, round(0.1 * n), replace=False)``
(sorted); every other label is NA.  For each of MclustSSC's default models
the script records ``mclust:::MclustSSC.fit(X, class, G = <classes>,
modelName = m)`` (loglik, df, bic, parameters, classification) and the BIC
table and choice of ``MclustSSC(X, class)`` (both through
:func:`emstat.crosscheck._mclustssc.run_mclust_ssc`), with R's and mclust's
versions.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emstat import _r
from emstat.crosscheck._mclustssc import run_mclust_ssc

HERE = Path(__file__).resolve().parent
SEED = 1
FRACTION = 0.1

DATASETS = {
    # name: (R expression of the data frame, class column)
    "iris": ("datasets::iris", "Species"),
    "banknote": ("mclust::banknote", "Status"),
}


def labelled_rows(n: int, seed: int = SEED, fraction: float = FRACTION) -> np.ndarray:
    """The rows whose class is kept: a seeded draw of round(fraction * n), sorted."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, round(fraction * n), replace=False))


def _number(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def make(name: str) -> dict[str, Any]:
    ro = _r.r_session()
    _r.require_r_package("mclust")
    expression, class_column = DATASETS[name]
    frame = _r.from_r_dataframe(ro.r(expression))
    frame = frame.reset_index(drop=True)
    frame.to_csv(HERE / f"known_labels_{name}.csv", index=False, float_format="%.17g")
    columns = [c for c in frame.columns if c != class_column]
    truth = frame[class_column].astype(str)
    rows = labelled_rows(len(frame))
    labels = pd.Series([None] * len(frame), dtype=object)
    labels[rows] = truth[rows]
    classes = sorted(set(truth[rows]))
    k = len(classes)
    models = list(ro.r('mclust::mclust.options("emModelNames")'))
    r = run_mclust_ssc(
        frame[columns].to_numpy(dtype=float), list(labels), classes, k, models, columns
    )
    control = _r.to_python(ro.r("mclust::emControl()"))
    return {
        "case": f"known_labels_{name}",
        "environment": {
            "R": str(ro.r("R.version.string")[0]),
            "mclust": str(ro.r('as.character(packageVersion("mclust"))')[0]),
            "script": "tests/reference/make_known_labels_reference.py",
        },
        "dataset": {
            "csv": f"known_labels_{name}.csv",
            "source": expression,
            "columns": columns,
            "class_column": class_column,
            "n": len(frame),
        },
        "labels": {
            "seed": SEED,
            "fraction": FRACTION,
            "rule": "numpy.random.default_rng(seed).choice(n, round(fraction * n), "
            "replace=False), sorted: those rows keep their class, the others are NA",
            "rows": rows.tolist(),
            "classes": classes,
        },
        "control": {"tol": float(control["tol"][0]), "criterion": "abs (loglik - loglik0 > tol)"},
        "bic_convention": "mclust: bic = 2 loglik - df log(n), larger is better; "
        "df = (G - 1) + d * G + nVarParams(model, d, G) at G = the number of classes",
        "layout": "means: k x d; covariances: k x d x d; classification: 1-based components "
        "(class c is component c in sorted order of the classes)",
        "k": k,
        "runs": r["cells"],
        "selection": {
            "models": models,
            "bic": [_number(v) for v in r["bic"]],
            "best_model": r["model"],
            "G": k,
        },
    }


def main(names: list[str]) -> None:
    for name in names or list(DATASETS):
        payload = make(name)
        (HERE / f"known_labels_{name}.json").write_text(json.dumps(payload, indent=1) + "\n")
        print(f"wrote known_labels_{name}.json and .csv")


if __name__ == "__main__":
    main(sys.argv[1:])
