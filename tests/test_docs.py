"""The API reference builds without a warning and documents every public name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("numpydoc")
pytest.importorskip("pydata_sphinx_theme")

from sphinx.util.inventory import InventoryFile

import emstat

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-q",
            "-E",
            "-W",
            "--keep-going",
            "-b",
            "html",
            "-d",
            str(out / ".doctrees"),
            str(DOCS),
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr  # a warning fails the build
    return out


@pytest.fixture(scope="module")
def documented(built: Path) -> set[str]:
    with (built / "objects.inv").open("rb") as stream:
        inventory = InventoryFile.load(stream, "", lambda base, uri: uri)
    return {name for entries in inventory.values() for name in entries}


@pytest.mark.slow
def test_every_name_emstat_exports_is_documented(documented):
    names = {f"emstat.{n}" for n in emstat.__all__ if not n.startswith("_")}
    assert names - documented == set()
    assert "emstat.report.report" in documented  # the function, beside the module of its name


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "emstat.sklearn.GaussianMixture",
        "emstat.sklearn.MixtureModel",
        *(
            f"emstat.sklearn.{cls}.{method}"
            for cls in ("GaussianMixture", "MixtureModel")
            for method in (
                "fit",
                "predict",
                "predict_proba",
                "score",
                "score_samples",
                "sample",
                "bic",
                "aic",
            )
        ),
        "emstat.EMControl",
        "emstat.results.FitCriteria",
        "emstat.MixtureResult.bic",  # inherited from the criteria's base
        "emstat.FamilyMixtureResult.predict",
        "emstat.SelectionResult.table",
        "emstat.families.ProductFamily",
        "emstat.simulation.Design",
        "emstat.crosscheck.MclustCheck",
        "emstat.report.SimulationResults",
    ],
)
def test_public_classes_and_methods_are_documented(documented, name):
    assert name in documented


@pytest.mark.slow
@pytest.mark.parametrize(
    ("page", "example"),
    [
        ("quickstart", "emstat.select_mixture(df, k=range(1, 10))"),
        ("cli", "emstat select data/faithful.csv --k 1:9"),
        ("simulation", "--out-dir sim1 --report"),
        ("reports", "emstat report sim1/"),
        ("crosscheck", "emstat crosscheck mclust data/faithful.csv --k 1:9"),
        ("sklearn", "GridSearchCV"),
        ("segmentation", "emstat segment data/coffee.png --k 2:5 --out seg.png"),
        ("segmentation", 'fit.plot("classification")'),
        ("extras", "emstat[all]"),
        ("hmm", "emstat hmm data/casino.csv --k 1:3 --family categorical"),
        ("hmm", "emstat lrt data/acidity.csv --model V --max-k 4"),
    ],
)
def test_the_readme_examples_are_pages(built, page, example):
    source = (DOCS / f"{page}.rst").read_text()
    assert example in source
    assert (built / f"{page}.html").is_file()
    readme = (DOCS.parent / "README.md").read_text()
    assert example in readme  # the page shows what the README shows
