"""What ``segment_image`` gives back: labels, uncertainty, the fit, the segmented image."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emstat.errors import InputError
from emstat.mixture.result import MixtureResult
from emstat.mixture.selection import SelectionResult
from emstat.segment.image import FEATURES, Picture

__all__ = ["SegmentationResult", "check_outputs", "labels_path"]


def labels_path(path: str | os.PathLike[str]) -> Path:
    """Where :meth:`SegmentationResult.save` writes the label image beside ``path``."""
    path = Path(path)
    return path.with_name(f"{path.stem}_labels.png")


@dataclass(frozen=True, eq=False)
class SegmentationResult:
    """An image segmented by a Gaussian mixture over its pixels.

    Attributes
    ----------
    picture
        The image (``picture.rgb``, H x W x 3 uint8) and its file name.
    labels
        H x W, each pixel's segment (the fit's component, 1..k), int32.
    uncertainty
        H x W, ``1 - max_k z_ik`` of each pixel, float32.
    fit
        The :class:`~emstat.MixtureResult` (the one BIC chose, for a selection).
    selection
        The :class:`~emstat.SelectionResult` when several k or models were fitted, else None.
    features
        The feature space: ``"rgb"``, ``"rgb+xy"`` or ``"lab"``.
    chunked
        True when the pixels streamed through the chunked path.
    seconds
        Time from the call to the result, reading the image included.
    seed
        The seed of the call.
    """

    picture: Picture
    labels: np.ndarray
    uncertainty: np.ndarray
    fit: MixtureResult
    selection: SelectionResult | None
    features: str
    chunked: bool
    seconds: float
    seed: int | None = 0

    @property
    def k(self) -> int:
        return self.fit.k

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return self.picture.shape

    @cached_property
    def pixels(self) -> np.ndarray:
        """The number of pixels in each segment (length k)."""
        return np.bincount(self.labels.ravel() - 1, minlength=self.k)

    @cached_property
    def colours(self) -> np.ndarray:
        """The mean colour of each segment's pixels, k x 3 uint8 (black for an empty segment)."""
        flat = self.labels.ravel() - 1
        rgb = self.picture.rgb.reshape(-1, 3)
        sums = np.stack(
            [np.bincount(flat, weights=rgb[:, c], minlength=self.k) for c in range(3)], axis=1
        )
        means = sums / np.maximum(self.pixels, 1)[:, None]
        return np.asarray(np.clip(np.rint(means), 0, 255).astype(np.uint8))

    @property
    def segments(self) -> pd.DataFrame:
        """One row per segment: pixels, share, mean colour (R, G, B and hex), mean uncertainty."""
        colours = self.colours.astype(int)
        flat = self.labels.ravel() - 1
        spread = np.bincount(flat, weights=self.uncertainty.ravel(), minlength=self.k)
        return pd.DataFrame(
            {
                "segment": np.arange(1, self.k + 1),
                "pixels": self.pixels,
                "share": self.pixels / self.labels.size,
                "R": colours[:, 0],
                "G": colours[:, 1],
                "B": colours[:, 2],
                "colour": [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in colours],
                "mean uncertainty": spread / np.maximum(self.pixels, 1),
            }
        )

    def segmented_image(self) -> np.ndarray:
        """The image with every pixel in its segment's mean colour, H x W x 3 uint8."""
        return np.asarray(self.colours[self.labels - 1])

    def save(self, path: str | os.PathLike[str], overwrite: bool = False) -> tuple[Path, Path]:
        """Write the segmented image to ``path`` and the label image beside it.

        The label image, ``<stem>_labels.png``, is 8-bit greyscale whose
        value at each pixel is its segment (1..k), so
        ``numpy.asarray(PIL.Image.open(p))`` gives :attr:`labels` back.  The
        format of ``path`` follows its suffix (PNG keeps the colours exact).
        Existing files are kept (an InputError) unless ``overwrite``.

        Returns
        -------
        The two paths written: the segmented image, the label image.
        """
        from PIL import Image

        target = Path(path)
        labels_file = labels_path(target)
        check_outputs([target, labels_file], overwrite)
        _write_image(Image.fromarray(self.segmented_image()), target)
        _write_image(Image.fromarray(self.labels.astype(np.uint8)), labels_file)
        return target, labels_file

    def plot(self, kind: str = "segmentation", ax: Any = None) -> Any:
        """Draw ``"segmentation"`` (the image beside its segmentation), ``"uncertainty"``,
        ``"sizes"`` (each segment's share, in its colour), ``"trace"`` or ``"stopping"``.

        Returns the Axes (two for ``"segmentation"``); see
        :func:`emstat.plotting.plot_segmentation`.
        """
        from emstat.plotting import plot_segmentation

        return plot_segmentation(self, kind, ax)

    def summary(self) -> str:
        """A plain-text summary: the image, the fit and the segments."""
        height, width = self.shape
        lines = [
            f"Image segmentation of {self.picture.name or 'an array'}: {width} x {height} pixels, "
            f"features {self.features} ({FEATURES[self.features]})",
            f"model {self.fit.model}, k = {self.k}"
            + (" (chosen by BIC)" if self.selection is not None else "")
            + f"; log-likelihood {self.fit.loglik:.4f}, BIC {self.fit.bic:.4f} (smaller is "
            f"better); EM {'converged' if self.fit.converged else 'did NOT converge'} after "
            f"{self.fit.n_iter} iterations; {self.seconds:.3f} s in all",
            "",
            self.segments.to_string(index=False, float_format=lambda v: f"{v:.3f}"),
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from emstat._html import segmentation_html

        return segmentation_html(self)


def check_outputs(paths: list[Path], overwrite: bool) -> None:
    """Refuse image outputs that are folders, lie in a missing folder, have a suffix Pillow
    cannot write, or exist (unless ``overwrite``)."""
    from PIL import Image

    for path in paths:
        if path.suffix.lower() not in Image.registered_extensions():
            raise InputError(
                f"cannot write an image as {str(path)!r}; give a .png (or .jpg, .tif) file"
            )
        if path.is_dir():
            raise InputError(f"{str(path)!r} is a folder; give a file name inside it")
        if not path.parent.is_dir():
            raise InputError(f"{str(path)!r}: there is no folder {str(path.parent)!r}")
        if path.exists() and not overwrite:
            raise InputError(f"{str(path)!r} exists; pass overwrite=True to replace it")


def _write_image(image: Any, path: Path) -> None:
    """Save through a temporary file beside ``path``, so a failed write leaves no half file."""
    from PIL import Image

    temporary = path.with_name(f".{path.name}.partial")
    try:
        image.save(temporary, format=Image.registered_extensions()[path.suffix.lower()])
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
