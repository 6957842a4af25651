"""Images in, pixel features out: reading with Pillow, checks, and the feature spaces.

An image becomes an (H x W x 3) uint8 sRGB array; each pixel then becomes a
row of features: its colour (``"rgb"``), its colour and its position
(``"rgb+xy"``), or its perceptual colour (``"lab"``, CIELAB).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emstat.errors import InputError
from emstat.segment.colour import LAB_COLUMNS, srgb_to_lab

__all__ = [
    "FEATURES",
    "Picture",
    "check_features",
    "colour_codes",
    "count_colours",
    "example_image",
    "feature_chunks",
    "feature_columns",
    "features",
    "read_image",
]

#: The feature spaces and what each row holds.
FEATURES = {
    "rgb": "colour: R, G, B in 0..255",
    "rgb+xy": "colour and position: R, G, B and x, y scaled so the longer side spans 0..255",
    "lab": "perceptual colour: CIELAB L*, a*, b* (D65 white)",
}

#: Pillow modes that hold one grey value per pixel (with or without alpha).
_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


@dataclass(frozen=True, eq=False)
class Picture:
    """An image as 8-bit sRGB, with its name (the file's, or None for an array)."""

    rgb: np.ndarray  # (H, W, 3) uint8
    name: str | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.rgb.shape[0]), int(self.rgb.shape[1])

    @property
    def n_pixels(self) -> int:
        return self.shape[0] * self.shape[1]


def example_image() -> Path:
    """The bundled photograph ``coffee.png`` (481 x 321, public domain; see ``data/README.md``)."""
    from emstat.datasets import _data_dir

    return _data_dir() / "coffee.png"


def read_image(source: Any) -> Picture:
    """An image file (any format Pillow reads) or an array, as 8-bit sRGB.

    Arrays are (H, W, 3) or (H, W, 4) (the alpha channel is dropped), of
    whole numbers in 0..255 or of floats in [0, 1].  A greyscale image (one
    channel, or R = G = B in every pixel), an image without pixels and a
    file Pillow cannot read are InputErrors.
    """
    if isinstance(source, (str, os.PathLike)):
        return Picture(_read_file(Path(source)), Path(source).name)
    if isinstance(source, np.ndarray):
        return Picture(_from_array(source))
    raise InputError(
        f"segment_image takes an image file's path or an (H, W, 3) array, "
        f"got {type(source).__name__}"
    )


def _read_file(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise InputError(f"no image file {str(path)!r}")
    if path.stat().st_size == 0:
        raise InputError(f"{str(path)!r} is an empty file (0 bytes), not an image")
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            rgb = None if mode in _GREY_MODES else np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{str(path)!r} is not an image Pillow can read ({exc})") from None
    if rgb is None:
        raise InputError(
            f"{str(path)!r} is a greyscale image (mode {mode}); the colour features "
            f"({', '.join(FEATURES)}) need a colour (RGB) image"
        )
    return _checked(rgb, repr(str(path)))


def _from_array(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] in (3, 4):
        array = array[:, :, :3]
    elif array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 1):
        raise InputError(
            f"the image array {array.shape} has one channel (greyscale); the colour features "
            f"({', '.join(FEATURES)}) need an (H, W, 3) RGB array"
        )
    else:
        raise InputError(f"an image array must be (H, W, 3) or (H, W, 4), got {array.shape}")
    if array.dtype == np.uint8:
        return _checked(np.ascontiguousarray(array), "the image array")
    if array.dtype.kind in "iu":
        if array.size and (array.min() < 0 or array.max() > 255):
            raise InputError("an integer image array must hold values in 0..255")
        return _checked(array.astype(np.uint8), "the image array")
    if array.dtype.kind == "f":
        if array.size and not np.isfinite(array).all():
            raise InputError("the image array holds NaN or infinite values")
        if array.size and (array.min() < 0 or array.max() > 1):
            raise InputError(
                "a float image array must hold values in [0, 1] (or pass whole numbers 0..255)"
            )
        return _checked(np.rint(array * 255).astype(np.uint8), "the image array")
    raise InputError(f"an image array must hold numbers, got dtype {array.dtype}")


def _checked(rgb: np.ndarray, what: str) -> np.ndarray:
    """Refuse an image without pixels, or one whose every pixel is grey (R = G = B)."""
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise InputError(f"{what} has no pixels ({rgb.shape[1]} x {rgb.shape[0]})")
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
        raise InputError(
            f"{what} is greyscale (R = G = B in every pixel); the colour features "
            f"({', '.join(FEATURES)}) need a colour image"
        )
    return rgb


def colour_codes(rgb: np.ndarray) -> np.ndarray:
    """Each pixel's colour as one 24-bit number (R, G, B packed), flattened row by row."""
    flat = rgb.reshape(-1, 3).astype(np.int32)
    return (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]


def count_colours(rgb: np.ndarray, at_least: int | None = None) -> int:
    """Distinct colours of an image; with ``at_least``, stop counting once it is reached.

    The first 10,000 pixels often hold ``at_least`` colours already, and
    counting them is much cheaper than sorting every pixel.
    """
    codes = colour_codes(rgb)
    if at_least is not None:
        head = np.unique(codes[:10_000]).size
        if head >= at_least:
            return head
    return int(np.unique(codes).size)


def feature_columns(features: str) -> list[str]:
    """The names of the feature columns."""
    return {"rgb": ["R", "G", "B"], "rgb+xy": ["R", "G", "B", "x", "y"], "lab": LAB_COLUMNS}[
        features
    ]


def check_features(features: Any) -> str:
    if not isinstance(features, str) or features not in FEATURES:
        raise InputError(f"unknown features {features!r}; choose {', '.join(FEATURES)}")
    return features


def _rows_features(
    rgb: np.ndarray, features: str, first_row: int, height_width: tuple[int, int]
) -> np.ndarray:
    """Features of the image rows in ``rgb`` (a block of whole rows starting at ``first_row``)."""
    flat = rgb.reshape(-1, 3)
    if features == "lab":
        return srgb_to_lab(flat)
    colour = flat.astype(float)
    if features == "rgb":
        return colour
    height, width = height_width
    scale = 255.0 / max(max(height, width) - 1, 1)
    rows, cols = np.divmod(np.arange(flat.shape[0]), rgb.shape[1])
    return np.column_stack([colour, cols * scale, (rows + first_row) * scale])


def features(picture: Picture, features: str) -> pd.DataFrame:
    """One row of features per pixel, row by row (``features`` of :data:`FEATURES`)."""
    values = _rows_features(picture.rgb, features, 0, picture.shape)
    return pd.DataFrame(values, columns=feature_columns(features))


def feature_chunks(picture: Picture, features: str, chunk_pixels: int) -> Iterator[pd.DataFrame]:
    """The features in chunks of whole image rows, about ``chunk_pixels`` pixels each."""
    height, width = picture.shape
    step = max(1, chunk_pixels // width)
    for top in range(0, height, step):
        block = picture.rgb[top : top + step]
        values = _rows_features(block, features, top, picture.shape)
        yield pd.DataFrame(values, columns=feature_columns(features))
