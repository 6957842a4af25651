"""The centred rows EM iterates over are laid out as the compiled E-step reads them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from emstat.mixture.fit import prepare_data


def test_centred_rows_of_a_frame_are_c_contiguous() -> None:
    # A float DataFrame's values are column-major; the E-step copied them every iteration.
    frame = pd.DataFrame(np.random.default_rng(1).normal(size=(50, 3)), columns=list("abc"))
    data = prepare_data(frame)
    assert data.x.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(data.x, frame.to_numpy() - frame.to_numpy().mean(axis=0))


def test_centred_rows_of_a_fortran_array_are_c_contiguous() -> None:
    rows = np.asfortranarray(np.random.default_rng(2).normal(size=(40, 2)))
    assert prepare_data(rows).x.flags["C_CONTIGUOUS"]
