"""Report files on disk: an edited .qmd is never replaced unasked, bad paths are one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import emstat
from emstat.cli import app as emstat_app
from emstat.cli import friendly_errors
from emstat.report import RenderError, check_report_path, render_qmd, render_report, report
from emstat.report.files import RECORD_NAME, check_replaceable, remember, staged

runner = CliRunner()


@pytest.fixture
def study(sim_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the synthetic simulation output directory."""
    return Path(shutil.copytree(sim_dir, tmp_path / "study"))


@pytest.fixture
def summary(sim_dir: Path) -> pd.DataFrame:
    return pd.read_csv(sim_dir / "summary.csv")


def _report_app() -> typer.Typer:
    from emstat.cli.report import report as report_command

    app = typer.Typer()
    app.command()(friendly_errors(report_command))
    return app


def _edit(qmd: Path) -> str:
    text = qmd.read_text().replace("## Design", "## Design edited")
    qmd.write_text(text)
    return text


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------ an edited .qmd is kept


def test_report_again_keeps_an_edited_qmd(study: Path, tmp_path: Path) -> None:
    qmd = tmp_path / "r.qmd"
    report(study, qmd)
    first = qmd.read_text()
    assert report(study, qmd) == [qmd]  # unchanged since emstat wrote it: written again
    assert qmd.read_text() == first
    edited = _edit(qmd)
    with pytest.raises(emstat.InputError) as info:
        report(study, qmd)
    message = str(info.value)
    assert f"{str(qmd)!r} was changed since emstat wrote it" in message
    assert "--overwrite" in message and f"emstat report {qmd}" in message
    assert "\n" not in message
    assert qmd.read_text() == edited
    report(study, qmd, overwrite=True)
    assert qmd.read_text() == first


def test_a_qmd_emstat_did_not_write_is_kept_and_nothing_is_written(
    summary: pd.DataFrame, tmp_path: Path
) -> None:
    qmd = tmp_path / "notes.qmd"
    qmd.write_text("my own notes\n")
    with pytest.raises(emstat.InputError, match="exists and emstat did not write it"):
        report(summary, tmp_path / "notes.html")
    assert qmd.read_text() == "my own notes\n"
    assert _names(tmp_path) == ["notes.qmd"]  # no figures folder, no html


def test_cli_report_of_a_directory_keeps_an_edited_qmd(study: Path) -> None:
    args = [str(study), "--no-html", "--no-pdf"]
    assert runner.invoke(_report_app(), args).exit_code == 0
    again = runner.invoke(_report_app(), args)
    assert again.exit_code == 0, again.output
    qmd = study / "report.qmd"
    edited = _edit(qmd)
    refused = runner.invoke(_report_app(), args)
    assert refused.exit_code == 2
    assert refused.output.startswith(f"error: {str(qmd)!r} was changed since emstat wrote it")
    assert "--overwrite" in refused.output
    assert qmd.read_text() == edited
    replaced = runner.invoke(_report_app(), [*args, "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert "Design edited" not in qmd.read_text()


def test_select_report_keeps_an_edited_qmd(tmp_path: Path) -> None:
    data = str(emstat.datasets.dataset_path("faithful"))
    qmd = tmp_path / "r.qmd"
    command = ["select", data, "--k", "1:2", "--models", "EEE"]
    first = runner.invoke(emstat_app, [*command, "--report", str(qmd)])
    assert first.exit_code == 0, first.output
    qmd.write_text(qmd.read_text().replace("## Model selection", "## Model selection, edited"))
    edited = qmd.read_text()
    # r.html does not exist yet, so only the edited r.qmd is in the way
    again = runner.invoke(emstat_app, [*command, "--report", str(tmp_path / "r.html")])
    assert again.exit_code == 2
    assert f"{str(qmd)!r} was changed since emstat wrote it" in again.output
    assert qmd.read_text() == edited
    assert not (tmp_path / "r.html").exists()


def test_figures_are_regenerated_and_other_files_left_alone(study: Path, tmp_path: Path) -> None:
    qmd = tmp_path / "r.qmd"
    report(study, qmd)
    figures = tmp_path / "r_figures"
    coverage = figures / "coverage.png"
    coverage.write_bytes(b"stale")
    (figures / "logo.png").write_bytes(b"the analyst's logo")
    report(study, qmd)
    assert coverage.read_bytes()[:4] == b"\x89PNG"
    assert (figures / "logo.png").read_bytes() == b"the analyst's logo"
    # a figure emstat no longer draws goes; the record says which it drew
    report(pd.read_csv(study / "summary.csv"), qmd)
    assert not (figures / "estimates.png").exists()
    assert (figures / "logo.png").exists()
    assert RECORD_NAME in _names(figures)


def test_render_report_keeps_an_html_emstat_did_not_write(
    summary: pd.DataFrame, tmp_path: Path
) -> None:
    qmd = report(summary, tmp_path / "r.qmd")[0]
    html = tmp_path / "r.html"
    html.write_text("<p>rendered elsewhere</p>")
    with pytest.raises(emstat.InputError, match=r"r\.html' exists and emstat did not write it"):
        render_report(qmd, ["html"])
    refused = runner.invoke(_report_app(), [str(qmd), "--no-pdf"])
    assert refused.exit_code == 2 and "--overwrite" in refused.output
    assert html.read_text() == "<p>rendered elsewhere</p>"


@pytest.mark.usefixtures("renderers")
def test_edited_qmd_renders_as_it_is_and_then_is_kept(study: Path) -> None:
    written = runner.invoke(_report_app(), [str(study), "--no-pdf"])
    assert written.exit_code == 0, written.output
    qmd, html = study / "report.qmd", study / "report.html"
    _edit(qmd)
    rendered = runner.invoke(_report_app(), [str(qmd), "--no-pdf"])
    assert rendered.exit_code == 0, rendered.output
    assert "Design edited" in html.read_text()
    # the html is emstat's (recorded), the edited .qmd is the analyst's
    check_replaceable(qmd, [html])
    refused = runner.invoke(_report_app(), [str(study), "--no-pdf"])
    assert refused.exit_code == 2 and "report.qmd" in refused.output
    assert "Design edited" in qmd.read_text()


@pytest.mark.usefixtures("renderers")
def test_pdf_leaves_a_typ_file_of_the_same_name_alone(
    summary: pd.DataFrame, tmp_path: Path
) -> None:
    typ = tmp_path / "r.typ"
    typ.write_text("// the analyst's own Typst\n")
    report(summary, tmp_path / "r.pdf", engine="pandoc")
    assert typ.read_text() == "// the analyst's own Typst\n"
    assert (tmp_path / "r.pdf").read_bytes()[:4] == b"%PDF"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.usefixtures("renderers")
def test_a_failed_render_leaves_the_old_html_whole(
    summary: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pypandoc

    qmd = report(summary, tmp_path / "r.qmd")[0]
    html = tmp_path / "r.html"
    html.write_text("<p>the last good render</p>")

    def half_then_fail(source: str, to: str, *, outputfile: str, **_: object) -> None:
        Path(outputfile).write_text("<p>half")
        raise RuntimeError("pandoc stopped")

    monkeypatch.setattr(pypandoc, "convert_file", half_then_fail)
    with pytest.raises(RenderError, match="pandoc stopped"):
        render_qmd(qmd, ["html"], engine="pandoc")
    assert html.read_text() == "<p>the last good render</p>"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_staged_file_replaces_the_old_only_when_complete(tmp_path: Path) -> None:
    path = tmp_path / "x.qmd"
    path.write_text("old")
    with pytest.raises(OSError), staged(path) as temp:
        temp.write_text("half")
        raise OSError("disk full")
    assert path.read_text() == "old"
    assert _names(tmp_path) == ["x.qmd"]
    with staged(path) as temp:
        assert temp.parent == tmp_path and temp.suffix == ".qmd"
        temp.write_text("new")
    assert path.read_text() == "new"
    assert _names(tmp_path) == ["x.qmd"]


def test_record_is_by_content(tmp_path: Path) -> None:
    qmd = tmp_path / "x.qmd"
    qmd.write_text("a")
    remember(qmd, [qmd])
    check_replaceable(qmd, [qmd])
    qmd.write_text("b")
    with pytest.raises(emstat.InputError, match="changed since emstat wrote it"):
        check_replaceable(qmd, [qmd])
    check_replaceable(qmd, [qmd], overwrite=True)
    (tmp_path / "x_figures" / RECORD_NAME).write_text("not json")
    with pytest.raises(emstat.InputError, match="emstat did not write it"):
        check_replaceable(qmd, [qmd])


# ------------------------------------------------------------------ engine and options


def test_unknown_engine_is_refused_before_writing(summary: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(emstat.InputError) as info:
        report(summary, tmp_path / "r.qmd", engine="bogus")  # type: ignore[arg-type]
    assert str(info.value) == "engine takes auto, quarto, pandoc; got 'bogus'"
    assert _names(tmp_path) == []
    (tmp_path / "x.qmd").write_text("# x\n")
    with pytest.raises(emstat.InputError, match="engine takes auto, quarto, pandoc"):
        render_qmd(tmp_path / "x.qmd", ["html"], engine="bogus")  # type: ignore[arg-type]
    result = runner.invoke(_report_app(), [str(tmp_path / "x.qmd"), "--engine", "bogus"])
    assert result.exit_code == 2
    assert "error: --engine takes auto, quarto, pandoc; got 'bogus'" in result.output


def test_unknown_option_is_an_input_error_naming_the_valid_ones(
    summary: pd.DataFrame, tmp_path: Path
) -> None:
    with pytest.raises(emstat.InputError) as info:
        report(summary, tmp_path / "r.qmd", bogus=1)
    assert str(info.value) == (
        "report() has no option 'bogus' for a simulation study; "
        "its options are formats, engine, overwrite, mkdir, title"
    )
    selection = emstat.select_mixture(emstat.load_dataset("faithful"), k=[1], models=["EEE"])
    with pytest.raises(emstat.InputError, match="no option 'seeds' for a mixture selection") as e:
        report(selection, tmp_path / "r.qmd", seeds=3)
    assert "data, data_name, title, command, seed" in str(e.value)
    assert _names(tmp_path) == []


# ------------------------------------------------------------------ bad paths


def test_unsupported_suffix(summary: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(emstat.InputError, match=r"ends in \.html, \.pdf or \.qmd; got '.*r\.docx'"):
        report(summary, tmp_path / "r.docx")
    from emstat.cli.report import check_report

    with pytest.raises(emstat.InputError, match=r"ends in \.html, \.pdf or \.qmd"):
        check_report(tmp_path / "r.docx", pdf=True)
    assert _names(tmp_path) == []


def test_missing_folder_is_refused_unless_mkdir(summary: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "r.qmd"
    with pytest.raises(emstat.InputError) as info:
        report(summary, path)
    assert str(info.value) == (
        f"no folder {str(path.parent)!r} for the report; create it, or pass --mkdir (mkdir=True)"
    )
    assert _names(tmp_path) == []
    assert report(summary, path, mkdir=True) == [path]
    assert path.is_file()


def test_cli_missing_folder_and_mkdir(study: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "r.html"
    args = [str(study), "--out", str(out), "--no-html", "--no-pdf"]
    refused = runner.invoke(_report_app(), args)
    assert refused.exit_code == 2
    assert f"error: no folder {str(out.parent)!r} for the report" in refused.output
    assert not out.parent.exists()
    made = runner.invoke(_report_app(), [*args, "--mkdir"])
    assert made.exit_code == 0, made.output
    assert (out.parent / "r.qmd").is_file()


@pytest.mark.parametrize("name", ["r.html", "r.qmd"])
def test_report_path_that_is_a_folder(summary: pd.DataFrame, tmp_path: Path, name: str) -> None:
    (tmp_path / name).mkdir()
    with pytest.raises(emstat.InputError, match=f"{name}' is a folder"):
        report(summary, tmp_path / "r.html")
    assert _names(tmp_path) == [name]
    assert _names(tmp_path / name) == []


def test_folder_that_is_a_file(summary: pd.DataFrame, tmp_path: Path) -> None:
    (tmp_path / "out").write_text("")
    with pytest.raises(emstat.InputError, match=r"'.*out' is a file, not a folder"):
        report(summary, tmp_path / "out" / "r.qmd", mkdir=True)
    (tmp_path / "r_figures").write_text("")
    with pytest.raises(emstat.InputError, match="r_figures' is a file"):
        report(summary, tmp_path / "r.qmd")
    assert _names(tmp_path) == ["out", "r_figures"]


def test_check_report_path_writes_nothing(tmp_path: Path) -> None:
    assert check_report_path(tmp_path / "r.html", ["HTML", ".pdf"]) == ["html", "pdf"]
    assert check_report_path(tmp_path / "new" / "r.qmd", mkdir=True) == []
    assert _names(tmp_path) == []
    with pytest.raises(emstat.InputError, match=r"cannot render to \['docx'\]"):
        check_report_path(tmp_path / "r.html", ["docx"])
