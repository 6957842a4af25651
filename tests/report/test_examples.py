"""The example documents in reports/ render, as an analyst who copied them would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emstat.report import render_qmd

pytestmark = pytest.mark.usefixtures("renderers")

REPORTS = Path(__file__).resolve().parents[2] / "reports"


@pytest.mark.parametrize("name", ["faithful", "sim", "crimes", "deaths"])
def test_example_renders(name: str, tmp_path: Path) -> None:
    source = REPORTS / f"{name}.qmd"
    if not source.is_file():
        pytest.skip(f"{source} missing: run python reports/make_reports.py")
    shutil.copy(source, tmp_path)
    shutil.copytree(REPORTS / f"{name}_figures", tmp_path / f"{name}_figures")
    html, pdf = render_qmd(tmp_path / f"{name}.qmd", ["html", "pdf"], engine="pandoc")
    assert pdf.read_bytes()[:4] == b"%PDF"
    text = html.read_text()
    assert "Reproducibility" in text
    assert text.count("data:image/png;base64,") >= 1
