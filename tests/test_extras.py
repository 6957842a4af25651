"""The optional extras: ``all`` installs every one a feature needs, each error names one that
exists, and the README lists them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
EXTRAS: dict[str, list[str]] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
    "optional-dependencies"
]
# for development and for building the reference, not for a feature
NOT_USER_FACING = {"dev", "docs", "all"}


def _all_extra() -> set[str]:
    (requirement,) = (Requirement(r) for r in EXTRAS["all"])
    assert requirement.name == "emstat"
    return set(requirement.extras)


def test_all_installs_every_user_facing_extra():
    assert set(EXTRAS) - NOT_USER_FACING <= _all_extra()
    assert {"report", "dask", "r", "sklearn", "hmm"} <= _all_extra()
    assert "dev" not in _all_extra() and "docs" not in _all_extra()


def test_the_sklearn_and_docs_extras_name_their_packages():
    assert [Requirement(r).name for r in EXTRAS["sklearn"]] == ["scikit-learn"]
    docs = [Requirement(r) for r in EXTRAS["docs"]]
    assert {r.name for r in docs} == {"emstat", "sphinx", "numpydoc", "pydata-sphinx-theme"}
    # the reference imports emstat.sklearn
    assert any(r.name == "emstat" and "sklearn" in r.extras for r in docs)


def test_every_missing_dependency_error_names_an_extra_that_exists():
    named = set()
    for path in (ROOT / "emstat").rglob("*.py"):
        text = path.read_text()
        named |= set(re.findall(r"require\(\s*\"[\w.]+\",\s*\"(\w+)\"\s*\)", text))
        named |= set(re.findall(r"emstat\[(\w+)\]", text))
    assert {"sklearn", "dask", "report", "r"} <= named
    assert named <= set(EXTRAS), sorted(named - set(EXTRAS))


def test_readme_says_what_each_extra_is_for():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Optional extras") :]
    rows = set(re.findall(r"^\| `emstat\[(\w+)\]` \| \S", table, flags=re.MULTILINE))
    assert (set(EXTRAS) - {"dev"}) | {"hmm"} <= rows
    assert "pip install 'emstat[all]'" in table
