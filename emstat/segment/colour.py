"""sRGB to CIELAB, from the formulas of IEC 61966-2-1 (sRGB) and CIE 15 (L*a*b*).

8-bit sRGB values are linearised (the sRGB transfer function), taken to CIE
XYZ by the sRGB matrix (D65 white), and to L*a*b* relative to that white,
so white is (100, 0, 0) and black (0, 0, 0).  Euclidean distances in
L*a*b* follow perceived colour differences more closely than in RGB.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LAB_COLUMNS", "srgb_to_lab", "srgb_to_linear"]

LAB_COLUMNS = ["L*", "a*", "b*"]

#: Linear RGB to CIE XYZ for sRGB primaries and the D65 white (IEC 61966-2-1).
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
#: The white point the matrix maps RGB white to (its row sums: D65, Y = 1).
_WHITE = _RGB_TO_XYZ.sum(axis=1)
_DELTA = 6.0 / 29.0


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """sRGB values in 0..255 to linear light in 0..1 (the inverse sRGB transfer function)."""
    c = np.asarray(values, dtype=float) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _f(t: np.ndarray) -> np.ndarray:
    # the cube root, continued by a line below (6/29)^3 so that its slope stays finite
    return np.where(t > _DELTA**3, np.cbrt(t), t / (3 * _DELTA**2) + 4.0 / 29.0)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L*, a*, b*) of sRGB colours given in 0..255, in the last axis (..., 3).

    Examples
    --------
    >>> srgb_to_lab(np.array([[255, 255, 255], [0, 0, 0]])).round(6) + 0.0
    array([[100.,   0.,   0.],
           [  0.,   0.,   0.]])
    """
    rgb = np.asarray(rgb)
    if rgb.shape[-1] != 3:
        raise ValueError(f"colours need 3 values (R, G, B) in their last axis, got {rgb.shape}")
    xyz = srgb_to_linear(rgb) @ _RGB_TO_XYZ.T / _WHITE
    fx, fy, fz = _f(xyz[..., 0]), _f(xyz[..., 1]), _f(xyz[..., 2])
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)
