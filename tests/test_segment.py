"""Image segmentation: colours, recovery of known regions, the bundled photograph, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import emstat
from emstat.cli import app
from emstat.report import build_document
from emstat.segment import example_image, principal_axis_labels, srgb_to_lab

runner = CliRunner()


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def two_colour_image(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 60 x 90 image: a reddish disc on a bluish ground, noise sd 4; and the disc's mask."""
    rows, cols = np.mgrid[0:60, 0:90]
    disc = (rows - 30) ** 2 + (cols - 40) ** 2 < 18**2
    rgb = np.where(disc[..., None], [200.0, 60.0, 40.0], [40.0, 90.0, 190.0])
    noisy = rgb + np.random.default_rng(seed).normal(0, 4, rgb.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8), disc


def _same_partition(labels: np.ndarray, truth: np.ndarray) -> bool:
    """Labels 1..2 equal the mask, up to the numbering of the two segments."""
    return bool(np.array_equal(labels == 1, truth) or np.array_equal(labels == 2, truth))


# --------------------------------------------------------------------------- colour


@pytest.mark.parametrize(
    ("rgb", "lab"),
    [
        ((255, 255, 255), (100.0, 0.0, 0.0)),
        ((0, 0, 0), (0.0, 0.0, 0.0)),
        # the CIE formulas with sRGB primaries and D65, as B. Lindbloom's colour calculator
        ((255, 0, 0), (53.2408, 80.0925, 67.2032)),
        ((0, 255, 0), (87.7347, -86.1827, 83.1793)),
        ((0, 0, 255), (32.2970, 79.1875, -107.8602)),
        ((128, 128, 128), (53.5850, 0.0, 0.0)),
    ],
)
def test_srgb_to_lab_known_values(rgb: tuple[int, int, int], lab: tuple[float, ...]) -> None:
    np.testing.assert_allclose(srgb_to_lab(np.array(rgb)), lab, atol=1e-4)


def test_principal_axis_labels_are_equal_quantiles() -> None:
    x = np.array([[5.0, 5.0], [0.0, 0.0], [9.0, 9.0], [1.0, 1.0], [8.0, 8.0], [4.0, 4.0]])
    np.testing.assert_array_equal(principal_axis_labels(x, 2), [1, 0, 1, 0, 1, 0])
    np.testing.assert_array_equal(principal_axis_labels(-x, 3), [1, 2, 0, 2, 0, 1])


# --------------------------------------------------------------------------- recovery


@pytest.mark.parametrize("features", ["rgb", "rgb+xy", "lab"])
def test_two_colour_image_is_recovered_exactly(features: str) -> None:
    rgb, disc = two_colour_image()
    seg = emstat.segment_image(rgb, k=2, features=features)
    assert seg.labels.shape == disc.shape and seg.labels.dtype == np.int32
    assert _same_partition(seg.labels, disc)
    assert seg.fit.init == "principal-axis quantiles" and not seg.chunked
    # each segment's colour is the mean of its pixels
    inside = 1 if np.array_equal(seg.labels == 1, disc) else 2
    np.testing.assert_array_equal(
        seg.colours[inside - 1], np.rint(rgb[disc].mean(axis=0)).astype(np.uint8)
    )
    assert set(map(tuple, seg.segmented_image().reshape(-1, 3))) == set(map(tuple, seg.colours))
    assert 0 <= seg.uncertainty.min() and seg.uncertainty.max() < 1e-3


def test_the_chunked_path_recovers_the_regions_too(monkeypatch: pytest.MonkeyPatch) -> None:
    import emstat.segment.fit

    # chunks of 11 rows of 90 pixels: the labels are put together from six chunks
    monkeypatch.setattr(emstat.segment.fit, "_CHUNK_PIXELS", 1000)
    rgb, disc = two_colour_image(seed=3)
    seg = emstat.segment_image(rgb, k=2, max_pixels_in_memory=1000)
    assert seg.chunked and seg.fit.init == "hc"
    assert _same_partition(seg.labels, disc)
    direct = emstat.segment_image(rgb, k=2)
    assert seg.fit.loglik == pytest.approx(direct.fit.loglik, rel=1e-8)


def test_a_range_of_k_is_a_bic_selection() -> None:
    rgb, _ = two_colour_image()
    seg = emstat.segment_image(rgb, k=range(1, 4), model=["VVV", "EEE"])
    assert seg.selection is not None
    table = seg.selection.table
    assert list(table.index) == [1, 2, 3] and list(table.columns) == ["VVV", "EEE"]
    assert seg.fit.bic == pytest.approx(np.nanmin(table.to_numpy()))
    assert seg.fit is seg.selection.best


# --------------------------------------------------------------------------- the photograph


@pytest.fixture(scope="module")
def coffee() -> emstat.SegmentationResult:
    return emstat.segment_image(example_image(), k=2)


def test_the_bundled_photograph_has_two_sizeable_segments(
    coffee: emstat.SegmentationResult,
) -> None:
    assert coffee.shape == (321, 481) and coffee.labels.size == 154_401
    assert coffee.fit.model == "VVV" and coffee.fit.converged
    shares = coffee.pixels / coffee.labels.size
    assert shares.min() > 0.3, shares
    rgb = np.asarray(Image.open(example_image()).convert("RGB"))
    for j in (1, 2):
        expected = rgb[coffee.labels == j].mean(axis=0)
        np.testing.assert_array_equal(coffee.colours[j - 1], np.rint(expected))
    # the darker segment (the saucer, the cup's shadow) and the lighter one (wood, crema)
    assert np.ptp(coffee.colours.astype(int).sum(axis=1)) > 150
    assert list(coffee.segments["pixels"]) == list(coffee.pixels)
    # classified colour by colour, as every pixel would be one by one
    pixels = rgb.reshape(-1, 3).astype(float)
    proba = coffee.fit.predict_proba(pixels).to_numpy()
    np.testing.assert_array_equal(coffee.labels.ravel(), proba.argmax(axis=1) + 1)
    np.testing.assert_allclose(coffee.uncertainty.ravel(), 1 - proba.max(axis=1), atol=1e-7)


def test_save_writes_both_images_and_keeps_existing_files(
    coffee: emstat.SegmentationResult, tmp_path: Path
) -> None:
    segmented, labels = coffee.save(tmp_path / "seg.png")
    assert labels == tmp_path / "seg_labels.png"
    np.testing.assert_array_equal(np.asarray(Image.open(segmented)), coffee.segmented_image())
    np.testing.assert_array_equal(np.asarray(Image.open(labels)), coffee.labels)
    segmented.unlink()
    labels.write_bytes(b"mine")
    with pytest.raises(emstat.InputError, match=r"seg_labels\.png' exists"):
        coffee.save(tmp_path / "seg.png")
    assert labels.read_bytes() == b"mine" and not segmented.exists()
    coffee.save(tmp_path / "seg.png", overwrite=True)
    assert labels.read_bytes() != b"mine"
    with pytest.raises(emstat.InputError, match=r"give a \.png"):
        coffee.save(tmp_path / "seg.txt")


def test_segmentation_plots_hold_the_images(coffee: emstat.SegmentationResult) -> None:
    left, right = coffee.plot("segmentation")
    np.testing.assert_array_equal(left.images[0].get_array(), coffee.picture.rgb)
    np.testing.assert_array_equal(right.images[0].get_array(), coffee.segmented_image())
    uncertainty = coffee.plot("uncertainty")
    np.testing.assert_array_equal(uncertainty.images[0].get_array(), coffee.uncertainty)
    sizes = coffee.plot("sizes")
    np.testing.assert_allclose([p.get_height() for p in sizes.patches], coffee.pixels / 154_401)
    np.testing.assert_array_equal(coffee.plot("trace").lines[0].get_ydata(), coffee.fit.trace)
    with pytest.raises(emstat.InputError, match="choose segmentation, uncertainty, sizes"):
        coffee.plot("classification")


def test_the_report_shows_the_image_beside_its_segments(
    coffee: emstat.SegmentationResult,
) -> None:
    doc = build_document(coffee)
    assert [f.name for f in doc.figures] == ["segmentation", "uncertainty", "sizes", "trace"]
    assert [s.title for s in doc.sections][:3] == ["Image and call", "Segmentation", "Segments"]
    segments = doc.sections[2].blocks[0]
    for colour in coffee.segments["colour"]:
        assert colour in segments


# --------------------------------------------------------------------------- bad input


def test_not_an_image(tmp_path: Path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("these are notes, not pixels")
    with pytest.raises(emstat.InputError, match=r"notes\.png' is not an image Pillow can read"):
        emstat.segment_image(fake)


def test_a_greyscale_image_for_rgb_features(tmp_path: Path) -> None:
    path = tmp_path / "grey.png"
    Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16)).save(path)
    with pytest.raises(emstat.InputError, match=r"greyscale image \(mode L\)"):
        emstat.segment_image(path)
    grey_rgb = np.repeat(np.arange(256, dtype=np.uint8).reshape(16, 16, 1), 3, axis=2)
    with pytest.raises(emstat.InputError, match="R = G = B in every pixel"):
        emstat.segment_image(grey_rgb, features="lab")
    with pytest.raises(emstat.InputError, match="has one channel"):
        emstat.segment_image(grey_rgb[:, :, 0])


def test_an_empty_image() -> None:
    with pytest.raises(emstat.InputError, match=r"has no pixels \(5 x 0\)"):
        emstat.segment_image(np.zeros((0, 5, 3), dtype=np.uint8))


def test_more_segments_than_colours() -> None:
    rgb = np.zeros((4, 6, 3), dtype=np.uint8)
    rgb[:, 2:4] = [255, 0, 0]
    rgb[:, 4:] = [0, 0, 255]
    with pytest.raises(emstat.InputError, match="k = 4 segments need at least 4 distinct colours"):
        emstat.segment_image(rgb, k=[2, 4])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"features": "hsv"}, r"unknown features 'hsv'; choose rgb, rgb\+xy, lab"),
        ({"model": "XYZ"}, "XYZ"),
        ({"k": 0}, "at least 1"),
    ],
)
def test_bad_options(call: dict[str, object], message: str) -> None:
    rgb, _ = two_colour_image()
    with pytest.raises(emstat.InputError, match=message):
        emstat.segment_image(rgb, **call)  # type: ignore[arg-type]


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(emstat.InputError, match="no image file"):
        emstat.segment_image(tmp_path / "nowhere.png")


# --------------------------------------------------------------------------- command line


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    rgb, _ = two_colour_image()
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    return path


def test_cli_writes_the_images_and_the_report(photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "seg.png"
    report = tmp_path / "out" / "seg.qmd"
    result = runner.invoke(
        app,
        [
            *("segment", str(photo), "--k", "1:3", "--out", str(out)),
            *("--report", str(report), "--features", "lab", "--mkdir"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "k = 2 (chosen by BIC)" in result.output
    labels = np.asarray(Image.open(tmp_path / "seg_labels.png"))
    assert _same_partition(labels, two_colour_image()[1])
    assert np.asarray(Image.open(out)).shape == (60, 90, 3)
    qmd = report.read_text()
    for figure in ("segmentation", "uncertainty", "sizes", "bic-by-k", "trace"):
        assert (tmp_path / "out" / "seg_figures" / f"{figure}.png").is_file()
        assert f"seg_figures/{figure}.png" in qmd
    assert "## Model selection" in qmd and "chosen by BIC among k = 1, 2, 3" in qmd


def test_cli_default_out_is_beside_the_image(photo: Path) -> None:
    result = runner.invoke(app, ["segment", str(photo)])
    assert result.exit_code == 0, result.output
    assert (photo.parent / "photo_segmented.png").is_file()
    assert (photo.parent / "photo_segmented_labels.png").is_file()


def _one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_cli_bad_input_is_one_line(photo: Path, tmp_path: Path) -> None:
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    assert "is not an image" in _one_line_error(["segment", str(fake)])
    out = tmp_path / "seg.png"
    out.write_bytes(b"keep me")
    line = _one_line_error(["segment", str(photo), "--out", str(out)])
    assert "exists" in line and out.read_bytes() == b"keep me"
    two = tmp_path / "two.png"
    Image.fromarray(np.repeat([[[255, 0, 0], [0, 0, 255]]], 3, axis=0).astype(np.uint8)).save(two)
    line = _one_line_error(["segment", str(two), "--k", "3"])
    assert "k = 3 segments need at least 3 distinct colours; the image has 2" in line
    assert not (tmp_path / "two_segmented.png").exists()


def test_cli_renders_the_report_as_html(photo: Path, tmp_path: Path) -> None:
    pytest.importorskip("pypandoc", reason="the report extra (pypandoc-binary) is not installed")
    report = tmp_path / "seg.html"
    result = runner.invoke(
        app, ["segment", str(photo), "--k", "2", "--report", str(report), "--overwrite"]
    )
    assert result.exit_code == 0, result.output
    html = report.read_text(encoding="utf-8")
    assert "Image segmentation: photo.png" in html
    # every figure (image and segments, uncertainty, sizes, trace) embedded in the page
    assert html.count("data:image/png;base64,") == 4


def test_the_features_help_names_every_feature_space() -> None:
    from emstat.cli.segment import FEATURE_HELP
    from emstat.segment.image import FEATURES

    assert FEATURE_HELP == FEATURES


def test_cli_each_bad_image_is_one_line(tmp_path: Path) -> None:
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((8, 8), 128, np.uint8), "L").save(grey)
    assert "is a greyscale image (mode L)" in _one_line_error(["segment", str(grey)])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert "is an empty file (0 bytes), not an image" in _one_line_error(["segment", str(empty)])
    line = _one_line_error(["segment", str(tmp_path / "missing.png")])
    assert "no image file" in line and "missing.png" in line


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_cli_format_prints_only_the_segments_table(photo: Path, tmp_path: Path, fmt: str) -> None:
    import io
    import json

    import pandas as pd

    out = tmp_path / "seg.png"
    args = ["segment", str(photo), "--k", "2", "--out", str(out), "--format", fmt]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    expected = emstat.segment_image(photo, k=2).segments
    if fmt == "csv":
        shown = pd.read_csv(io.StringIO(result.stdout))
    else:
        shown = pd.DataFrame(json.loads(result.stdout))
    assert list(shown.columns) == list(expected.columns)
    assert shown["pixels"].tolist() == expected["pixels"].tolist()
    assert shown["colour"].tolist() == expected["colour"].tolist()
    assert "segmented image:" in result.stderr and out.is_file()
