"""Fixtures shared by the test modules: R through rpy2, skipped with the reason if unusable."""

from __future__ import annotations

import pytest

from emstat import _r
from emstat.errors import EmstatError


def _require_mclust(*, attach: bool) -> None:
    try:
        _r.r_session()
    except EmstatError as exc:
        pytest.skip(f"R is not usable: {exc}")
    if not _r.r_has_package("mclust"):
        pytest.skip("R package mclust is not installed (apt-get install r-cran-mclust)")
    if attach:
        _r.require_r_package("mclust")  # Mclust calls mclustBIC by name: attach it


@pytest.fixture(scope="module")
def r_mclust() -> None:
    """R with mclust installed, or the module's tests skipped."""
    _require_mclust(attach=False)


@pytest.fixture(scope="module")
def r_mclust_attached() -> None:
    """R with mclust installed and attached (its functions found by name)."""
    _require_mclust(attach=True)
