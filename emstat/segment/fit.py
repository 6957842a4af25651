"""``segment_image``: a photograph's pixels as rows, a Gaussian mixture over their features.

Each pixel is a row of features (its colour, perhaps its position); a
k-component mixture is fitted by EM and each pixel goes to its most probable
component.  A range of k (or several covariance models) is a selection by
BIC, as :func:`emstat.select_mixture` makes.

The start.  The hierarchical start ``fit_mixture`` uses by default (an hc
tree on a seeded subset of 2,000 rows) costs more than EM itself on an image,
so in memory EM starts from the *principal-axis quantiles*: the pixels ranked
by their projection on the first principal axis of the features (pointing
to larger feature sums, so the sign is fixed) and cut into k classes of equal
size.  It needs no seed, costs a sort, and on colour photographs it starts
at least as well as hc on a subset.  Images of more than
``max_pixels_in_memory`` pixels stream through the chunked path of
:mod:`emstat.mixture.sources` (spilled to disk once, read in chunks per
E-step) and start from hc on a seeded sample of ``hc_subset`` pixels.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from emstat._validation import check_k_values, check_seed, check_whole
from emstat.engine import EMControl
from emstat.errors import DegenerateFitError, InputError
from emstat.mixture.covariance import get_covariance_model
from emstat.mixture.fit import FitData, MixtureFitter, prepare_data
from emstat.mixture.result import MixtureResult
from emstat.mixture.selection import SelectionResult
from emstat.segment.image import (
    Picture,
    check_features,
    colour_codes,
    count_colours,
    feature_chunks,
    features,
    read_image,
)
from emstat.segment.result import SegmentationResult

__all__ = ["IMAGE_START", "principal_axis_labels", "segment_image"]

#: How in-memory fits start, as ``MixtureResult.init`` records it.
IMAGE_START = "principal-axis quantiles"
#: Pixels per chunk on the chunked path.
_CHUNK_PIXELS = 1_000_000


def principal_axis_labels(x: np.ndarray, k: int) -> np.ndarray:
    """k classes of equal size (0..k-1) of the rows of ``x`` along their first principal axis.

    The axis is the leading eigenvector of the scatter matrix, turned so that
    its entries sum to a positive number (the sign of an eigenvector is
    arbitrary); ties in the projection keep the rows' order.
    """
    centred = x - x.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    axis = vectors[:, -1] if vectors[:, -1].sum() >= 0 else -vectors[:, -1]
    order = np.argsort(centred @ axis, kind="stable")
    labels = np.empty(x.shape[0], dtype=np.intp)
    labels[order] = (np.arange(x.shape[0]) * k) // x.shape[0]
    return labels


@dataclass
class _ImageFitter(MixtureFitter):
    """A :class:`MixtureFitter` told the image's distinct colours.

    They are counted on packed 24-bit colour codes; the fitter's own count
    (``np.unique`` of every row) costs more than the fit of an image.
    """

    colours: int = 0

    def _distinct_rows(self) -> int:
        return self.colours


def _models(model: str | Sequence[str], d: int) -> list[str]:
    names = [model] if isinstance(model, str) else list(model)
    if not names:
        raise InputError("model names no covariance model; give one, such as 'VVV'")
    return list(dict.fromkeys(get_covariance_model(m, d).name for m in names))


def _check_ks(ks: list[int], colours: int) -> None:
    """Refuse more segments than the label image holds or the image has colours."""
    if max(ks) > 255:
        raise InputError(f"at most 255 segments (the label image is 8-bit), got k = {max(ks)}")
    if max(ks) > colours:
        raise InputError(
            f"k = {max(ks)} segments need at least {max(ks)} distinct colours; "
            f"the image has {colours}"
        )


def _fit_cell(
    prepared: FitData,
    k: int,
    model: str,
    control: EMControl,
    colours: int,
    seed: int | None,
    hc_subset: int,
    fitters: dict[int, _ImageFitter],
) -> MixtureResult:
    """One (k, model) fit, from the principal-axis quantiles in memory, else from hc."""
    raw = prepared.raw
    in_memory = raw is not None
    key = k if in_memory else 0  # on the chunked path one hc tree serves every k
    if key not in fitters:
        init: Any = principal_axis_labels(raw, k) if raw is not None and k > 1 else "hc"
        fitters[key] = _ImageFitter(
            prepared, control=control, init=init, seed=seed, hc_subset=hc_subset, colours=colours
        )
    fit = fitters[key].fit(k, model)
    return replace(fit, init=IMAGE_START) if in_memory and k > 1 else fit


def _prepare(
    picture: Picture, feature_space: str, chunked: bool, hc_subset: int, seed: int | None
) -> FitData:
    if chunked:
        chunks = feature_chunks(picture, feature_space, _CHUNK_PIXELS)
        return prepare_data(chunks, chunk_rows=_CHUNK_PIXELS, sample_size=hc_subset, seed=seed)
    return prepare_data(features(picture, feature_space))


def _classify(
    fit: MixtureResult, picture: Picture, feature_space: str, prepared: FitData
) -> tuple[np.ndarray, np.ndarray]:
    """Labels (1..k, int32) and uncertainty (float32) of every pixel, H x W."""
    height, width = picture.shape
    if prepared.raw is not None and feature_space != "rgb+xy":
        # A pixel's features are its colour's: classify each distinct colour once.
        _, first, inverse = np.unique(
            colour_codes(picture.rgb), return_index=True, return_inverse=True
        )
        labels, uncertainty = _labels_of(fit, prepared.raw[first])
        return (
            labels[inverse].reshape(height, width),
            uncertainty[inverse].reshape(height, width),
        )
    blocks: Iterable[Any]
    if prepared.raw is not None:
        blocks = [prepared.raw]
    else:
        blocks = feature_chunks(picture, feature_space, _CHUNK_PIXELS)
    parts = [_labels_of(fit, block) for block in blocks]
    return (
        np.concatenate([p[0] for p in parts]).reshape(height, width),
        np.concatenate([p[1] for p in parts]).reshape(height, width),
    )


def _labels_of(fit: MixtureResult, rows: Any) -> tuple[np.ndarray, np.ndarray]:
    """The most probable component (1..k, int32) and ``1 - max z`` (float32) of ``rows``."""
    proba = fit.predict_proba(rows).to_numpy()
    return (
        (np.argmax(proba, axis=1) + 1).astype(np.int32),
        (1.0 - proba.max(axis=1)).astype(np.float32),
    )


def segment_image(
    image: Any,
    k: int | Iterable[int] = 2,
    model: str | Sequence[str] = "VVV",
    features: str = "rgb",
    *,
    seed: int | None = 0,
    control: EMControl | None = None,
    hc_subset: int = 2000,
    max_pixels_in_memory: int = 4_000_000,
) -> SegmentationResult:
    """Segment a photograph by a Gaussian mixture over its pixels.

    Parameters
    ----------
    image
        The path of an image file (PNG, JPEG, TIFF, ...: any colour image
        Pillow reads), or an (H, W, 3) array of 0..255 or of floats in [0, 1].
    k
        Number of segments, or several (``range(2, 6)``): then every k (and
        model) is fitted and BIC chooses, as :func:`emstat.select_mixture`.
    model
        A covariance model (mclust's names, default ``"VVV"``), or several.
    features
        What each pixel is to the mixture: ``"rgb"`` (its colour),
        ``"rgb+xy"`` (its colour and its position, scaled so the longer
        side spans 0..255: segments become compact regions) or ``"lab"``
        (CIELAB, where distances follow perceived colour differences).
    seed
        Seeds the hc sample of the chunked path (in memory, the start needs none).
    control
        The stopping rule (default mclust's, :class:`emstat.EMControl`).
    hc_subset
        Pixels the chunked path's hierarchical start agglomerates.
    max_pixels_in_memory
        Larger images stream through the chunked path (memory bounded by
        about a million pixels' features at a time).

    Returns
    -------
    SegmentationResult
        ``labels`` (H x W, 1..k), ``uncertainty`` (H x W, ``1 - max z``),
        ``fit``, ``selection`` (when k or model name several),
        ``segmented_image()`` and ``save()``.

    Notes
    -----
    In memory, EM starts from the principal-axis quantiles (see
    :func:`principal_axis_labels`): ``fit_mixture``'s default start, an hc
    tree on a seeded subset of 2,000 rows, and its count of distinct rows
    over every pixel cost more than EM on an image.  The chunked path
    starts from hc on a seeded sample of ``hc_subset`` pixels.

    Examples
    --------
    >>> import emstat
    >>> from emstat.segment import example_image
    >>> seg = emstat.segment_image(example_image(), k=2)
    >>> seg.labels.shape, seg.k
    ((321, 481), 2)
    """
    began = time.perf_counter()
    feature_space = check_features(features)
    seed = check_seed(seed)
    hc_subset = check_whole(hc_subset, "hc_subset", minimum=2)
    max_pixels_in_memory = check_whole(max_pixels_in_memory, "max_pixels_in_memory")
    picture = read_image(image)
    ks = check_k_values(k)
    select = not isinstance(k, (int, np.integer))  # a range or list of k is a selection
    colours = count_colours(picture.rgb, at_least=max(ks))
    _check_ks(ks, colours)
    chunked = picture.n_pixels > max_pixels_in_memory
    prepared = _prepare(picture, feature_space, chunked, hc_subset, seed)
    models = _models(model, prepared.d)
    control = control or EMControl()
    fitters: dict[int, _ImageFitter] = {}
    fits = {
        (kk, m): _fit_cell(prepared, kk, m, control, colours, seed, hc_subset, fitters)
        for kk in ks
        for m in models
    }
    selection = None
    if select or len(models) > 1:
        selection = SelectionResult(
            fits, ks, models, "bic", "smaller", prepared.columns, prepared.size, None, seed
        )
        if not any(f.ok for f in fits.values()):
            raise DegenerateFitError(
                "every fit was degenerate; try smaller k or another model (EEE, VVI)"
            )
        fit = selection.best
    else:
        fit = fits[(ks[0], models[0])]
        if not fit.ok:
            raise DegenerateFitError(
                f"the {fit.model} fit with k = {fit.k} is degenerate ({fit.degenerate}); "
                "try a smaller k or another model (EEE, VVI)"
            )
    labels, uncertainty = _classify(fit, picture, feature_space, prepared)
    return SegmentationResult(
        picture=picture,
        labels=labels,
        uncertainty=uncertainty,
        fit=fit,
        selection=selection,
        features=feature_space,
        chunked=chunked,
        seconds=time.perf_counter() - began,
        seed=seed,
    )
