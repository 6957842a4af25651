"""Random streams and data sets: replicate i of every scenario draws from stream i.

Replicate ``i`` uses stream ``i`` of ``np.random.SeedSequence(seed).spawn(reps)``
(``SeedSequence(seed, spawn_key=(i,))``, the same object), whatever the
number of workers and wherever it runs.  Every scenario uses the same stream
for replicate ``i``: scenarios that differ only in what is fitted (k, model,
selection) fit the same data sets, so their differences are paired (common
random numbers), and scenarios that differ in n or separation draw their
data from the same uniform numbers.  The cells a design's ``[missing]``
table deletes come from a third stream of the replicate (:func:`missing_rng`),
so the data are the same with and without them; the outliers of its
``[noise]`` table from a fourth (:func:`noise_rng`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emstat.simulation.design import TrueMixture

__all__ = [
    "add_outliers",
    "draw_mixture",
    "missing_rng",
    "noise_rng",
    "replicate_rng",
    "replicate_seed_sequence",
]


def replicate_seed_sequence(seed: int, replicate: int) -> np.random.SeedSequence:
    """Stream ``replicate`` of ``np.random.SeedSequence(seed).spawn(reps)``.

    Examples
    --------
    >>> a = replicate_seed_sequence(1, 3).generate_state(2)
    >>> b = np.random.SeedSequence(1).spawn(10)[3].generate_state(2)
    >>> bool((a == b).all())
    True
    """
    return np.random.SeedSequence(seed, spawn_key=(replicate,))


def replicate_rng(seed: int, replicate: int) -> tuple[np.random.Generator, int]:
    """The generator of the data of a replicate, and an integer seed for its fit's own choices.

    They come from the first two children of the replicate's stream,
    ``replicate_seed_sequence(seed, replicate).spawn(2)``, made directly.

    Examples
    --------
    >>> data_seq, fit_seq = replicate_seed_sequence(1, 3).spawn(2)
    >>> rng, fit_seed = replicate_rng(1, 3)
    >>> bool(rng.random() == np.random.default_rng(data_seq).random())
    True
    >>> fit_seed == int(fit_seq.generate_state(1)[0])
    True
    """
    data_seq = np.random.SeedSequence(seed, spawn_key=(replicate, 0))
    fit_seq = np.random.SeedSequence(seed, spawn_key=(replicate, 1))
    return np.random.default_rng(data_seq), int(fit_seq.generate_state(1)[0])


def missing_rng(seed: int, replicate: int) -> np.random.Generator:
    """The generator of the cells replicate ``replicate`` deletes.

    Its stream, ``SeedSequence(seed, spawn_key=(replicate, 2))``, is the
    third child of the replicate's: the first two draw the data and seed
    the fit (see :func:`replicate_rng`), and stay as they were.

    Examples
    --------
    >>> a = missing_rng(1, 3).random()
    >>> b = np.random.default_rng(replicate_seed_sequence(1, 3).spawn(3)[2]).random()
    >>> a == b
    True
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(replicate, 2)))


def noise_rng(seed: int, replicate: int) -> np.random.Generator:
    """The generator of the outliers replicate ``replicate`` adds: stream ``(replicate, 3)``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(replicate, 3)))


def add_outliers(data: pd.DataFrame, m: int, rng: np.random.Generator) -> pd.DataFrame:
    """``data`` with ``m`` rows drawn uniformly over its bounding box appended."""
    if m == 0:
        return data
    low = data.min().to_numpy(dtype=float)
    high = data.max().to_numpy(dtype=float)
    drawn = low + (high - low) * rng.random((m, data.shape[1]))
    return pd.concat([data, pd.DataFrame(drawn, columns=data.columns)], ignore_index=True)


def draw_mixture(
    mixture: TrueMixture, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` rows from ``mixture``; return the (n, d) data and each row's component (0-based).

    See :func:`emstat.mixture.gaussian.draw_mixture` (the mixture's sampler, made once).
    """
    return mixture.sampler.draw(n, rng)
