"""The charts' rotations ``expm(S)`` of skew-symmetric ``S`` by Rodrigues' formula equal
scipy's matrix exponential, from angles at rounding level to several turns."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm

from emstat.mixture.stderr import _rotation, _skew_basis


@pytest.mark.parametrize("d", [2, 3, 4])
@pytest.mark.parametrize("scale", [1e-12, 1e-9, 1e-6, 1e-3, 0.3, 2.0, 9.0])
def test_rotations_equal_the_matrix_exponential(d: int, scale: float) -> None:
    rng = np.random.default_rng(int(scale * 1e3) + d)
    generator = np.tensordot(rng.normal(size=d * (d - 1) // 2) * scale, _skew_basis(d), axes=1)
    rotation = _rotation(generator)
    np.testing.assert_allclose(rotation, expm(generator), rtol=0, atol=1e-13)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(d), rtol=0, atol=1e-13)
