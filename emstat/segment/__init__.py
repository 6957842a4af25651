"""Image segmentation: a photograph's pixels as rows of a Gaussian mixture.

``emstat.segment_image(path, k=2)`` reads the image with Pillow, fits the
mixture to its pixels' features and returns a
:class:`~emstat.segment.result.SegmentationResult` (labels, uncertainty,
the fit, the segmented image); ``emstat segment`` is its command line.
"""

from __future__ import annotations

from emstat.segment.colour import srgb_to_lab
from emstat.segment.fit import IMAGE_START, principal_axis_labels, segment_image
from emstat.segment.image import FEATURES, example_image, read_image
from emstat.segment.result import SegmentationResult

__all__ = [
    "FEATURES",
    "IMAGE_START",
    "SegmentationResult",
    "example_image",
    "principal_axis_labels",
    "read_image",
    "segment_image",
    "srgb_to_lab",
]
