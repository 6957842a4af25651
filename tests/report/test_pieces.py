"""The pure pieces: number formats, pipe tables, callouts, tables of results, the CLI."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import emstat
from emstat.report.markdown import callout, fmt_fixed, fmt_sig, md_escape, pipe_table
from emstat.report.mixture import best_cell, criterion_table, restarts_table
from emstat.report.render import find_quarto
from emstat.report.simulation import k_choices


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.48787, "3.488"), (79.9681, "79.97"), (-1126.3262, "-1126"), (20671.3, "20671"),
     (0.0001234, "1.234e-04"), (0.0, "0"), (math.nan, "NA"), (None, "NA")],
)  # fmt: skip
def test_fmt_sig(value: float, text: str) -> None:
    assert fmt_sig(value) == text


def test_fmt_fixed() -> None:
    assert fmt_fixed(-2314.3859) == "-2314.39"
    assert fmt_fixed(math.nan) == "NA"


def test_md_escape() -> None:
    assert md_escape("var[x_1]*") == r"var\[x\_1\]\*"


def test_pipe_table_shape_and_alignment() -> None:
    frame = pd.DataFrame({"model": ["EEE", "V|V"], "k = 1": ["1.00", "**2.00**"]})
    lines = pipe_table(frame, "Caption").splitlines()
    assert lines[0].startswith("| model") and lines[1].startswith("|:")
    assert lines[1].rstrip("|").endswith(":")  # numbers right-aligned
    assert "V\\|V" in lines[3]
    assert lines[-1] == ": Caption"
    wide = pipe_table(frame, full_width=True).splitlines()[1]
    assert len(wide) > 72  # pandoc then spans the text width and wraps cells


def test_callout_is_quarto_markup() -> None:
    assert callout("text", "Title") == '::: {.callout-note title="Title"}\ntext\n:::'


def test_criterion_table_marks_the_best_cell() -> None:
    table = pd.DataFrame(
        [[3.0, math.nan], [1.0, 2.0]],
        index=pd.Index([1, 2], name="k"),
        columns=pd.Index(["E", "V"], name="model"),
    )
    assert best_cell(table, "smaller") == (2, "E")
    assert best_cell(table, "mclust") == (1, "E")
    out = criterion_table(table, (2, "E"))
    assert list(out.columns) == ["model", "k = 1", "k = 2"]
    assert out.loc[0, "k = 2"] == "**1.00**"
    assert out.loc[1, "k = 1"] == "NA"


def test_restart_table_marks_the_kept_run() -> None:
    # the columns MixtureResult.restarts has (emstat.mixture.fit._restart_table)
    restarts = pd.DataFrame(
        {
            "restart": [1, 2, 3],
            "init": ["random"] * 3,
            "loglik": [-1130.5, -1126.3262, -1127.0],
            "n_iter": [40, 18, 25],
            "converged": [True, True, False],
            "stop_reason": ["converged", "converged", "max_iter"],
            "seconds": [0.01, 0.02, 0.03],
        }
    )
    out = restarts_table(restarts)
    assert list(out["log-likelihood"]) == ["-1130.5000", "**-1126.3262**", "-1127.0000"]
    assert list(out["converged"]) == ["yes", "yes", "no"]


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"scenario": ["a"] * 3, "criterion": ["bic"] * 3, "k": [1, 2, 2]}),
        pd.DataFrame({"scenario": ["a"] * 3, "bic_k": [1, 2, 2]}),
    ],
)
def test_k_choices_long_or_wide(frame: pd.DataFrame) -> None:
    out = k_choices(frame)
    assert out.set_index("k")["count"].to_dict() == {1: 1, 2: 2}


def test_find_quarto_honours_quarto_path(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "quarto"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setenv("QUARTO_PATH", str(fake))
    assert find_quarto() == str(fake)


def test_report_rejects_unknown_input(tmp_path) -> None:
    with pytest.raises(emstat.InputError, match="report"):
        from emstat.report import report

        report(42, tmp_path / "x.html")
    with pytest.raises(emstat.InputError, match=r"\.html, \.pdf or \.qmd"):
        report(pd.DataFrame(), tmp_path / "x.docx")


def _app() -> typer.Typer:
    """The ``emstat report`` command as the package registers it (errors as one line)."""
    from emstat.cli import friendly_errors
    from emstat.cli.report import report

    app = typer.Typer()
    app.command()(friendly_errors(report))
    return app


def test_cli_renders_a_simulation_directory_and_an_edited_qmd(renderers, sim_dir, tmp_path) -> None:
    import shutil

    sim_dir = shutil.copytree(sim_dir, tmp_path / "sim1")
    runner = CliRunner()
    result = runner.invoke(_app(), [str(sim_dir), "--no-pdf"])
    assert result.exit_code == 0, result.output
    html = sim_dir / "report.html"
    assert f"wrote {html}" in result.output
    qmd = sim_dir / "report.qmd"
    qmd.write_text(qmd.read_text().replace("## Design", "## Design as edited"))
    result = runner.invoke(_app(), [str(qmd), "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert "Design as edited" in html.read_text()


def test_cli_rejects_other_paths(tmp_path) -> None:
    target = tmp_path / "nothing.txt"
    result = CliRunner().invoke(_app(), [str(target)])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"error: {str(target)!r} is neither a simulation output directory nor a .qmd file"
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)
