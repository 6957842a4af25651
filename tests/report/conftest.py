"""Shared, once-per-session results and rendered reports (rendering is the slow part)."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

import emstat
from emstat.report import build_document, write_report
from emstat.report.document import Document

from ._fixtures import make_simulation_dir


@pytest.fixture(scope="session")
def renderers() -> None:
    """Skip a test that renders unless the ``report`` extra (pandoc and Typst) is installed.

    Request it (or ``pytest.mark.usefixtures("renderers")``) in every test
    that renders; the other report tests run without the extra.
    """
    pytest.importorskip("pypandoc", reason="the report extra (pypandoc-binary) is not installed")
    pytest.importorskip("typst", reason="the report extra (typst) is not installed")


@dataclass(frozen=True)
class Rendered:
    """A report's document and the files rendered from it."""

    doc: Document
    qmd: Path
    html: Path
    pdf: Path

    @property
    def html_text(self) -> str:
        return self.html.read_text(encoding="utf-8")


def pdf_text(pdf: Path) -> str:
    """The PDF's text by pdftotext, U+2212 minus as '-'; skip when poppler is missing."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    out = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return out.replace("\u2212", "-")


def pdf_pages(pdf: Path) -> int:
    """Pages of a PDF (pdfinfo when found, else counting page objects)."""
    if shutil.which("pdfinfo") is not None:
        out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Pages:"):
                return int(line.split()[1])
    import re

    return len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))


def _render(result: object, path: Path, **options: object) -> Rendered:
    doc = build_document(result, **options)
    qmd, html, pdf = write_report(doc, path, ["html", "pdf"], engine="pandoc")
    return Rendered(doc, qmd, html, pdf)


@pytest.fixture(scope="session")
def faithful() -> tuple[object, object]:
    data = emstat.load_dataset("faithful")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emstat.ConvergenceWarning)
        selection = emstat.select_mixture(data, k=range(1, 10))
    return selection, data


@pytest.fixture(scope="session")
def faithful_report(
    renderers: None, faithful: tuple[object, object], tmp_path_factory: pytest.TempPathFactory
) -> Rendered:
    selection, data = faithful
    out = tmp_path_factory.mktemp("faithful") / "faithful.html"
    return _render(selection, out, data=data, data_name="faithful.csv", seed=0)


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_simulation_dir(tmp_path_factory.mktemp("sim") / "sim1")


@pytest.fixture(scope="session")
def sim_report(renderers: None, sim_dir: Path) -> Rendered:
    return _render(sim_dir, sim_dir / "report.html")


@pytest.fixture(scope="session")
def crimes_fits() -> tuple[object, object]:
    crimes = emstat.load_dataset("crimes")
    saturated = emstat.fit_categorical(crimes, counts="N")
    independence = emstat.fit_categorical(crimes, counts="N", margins=[["V1"], ["V2"]])
    return saturated, independence


@pytest.fixture(scope="session")
def crimes_report(
    renderers: None, crimes_fits: tuple[object, object], tmp_path_factory: pytest.TempPathFactory
) -> Rendered:
    out = tmp_path_factory.mktemp("crimes") / "crimes.html"
    return _render(crimes_fits, out, data_name="crimes.csv")


@pytest.fixture(scope="session")
def deaths_report(renderers: None, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    deaths = emstat.load_dataset("deaths")
    fit = emstat.fit_mixture(deaths, k=2, family="poisson", columns=["deaths"], weights="days")
    return _render(fit, tmp_path_factory.mktemp("deaths") / "deaths.html", data_name="deaths")


@pytest.fixture(scope="session")
def carcinoma_report(renderers: None, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    carcinoma = emstat.load_dataset("carcinoma")
    selection = emstat.select_mixture(
        carcinoma, k=range(1, 5), family="categorical", init="random", n_init=10
    )
    out = tmp_path_factory.mktemp("carcinoma") / "carcinoma.html"
    return _render(selection, out, data_name="carcinoma")
