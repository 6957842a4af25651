"""The command line, driven as a user would, through typer's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import emstat
from emstat.cli import app, parse_ks
from emstat.errors import InputError

runner = CliRunner()


@pytest.fixture
def faithful_csv() -> Path:
    return emstat.datasets.dataset_path("faithful")


def test_fit_saves_a_fit_python_can_load(faithful_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "fit.json"
    result = runner.invoke(
        app, ["fit", str(faithful_csv), "--k", "3", "--model", "VVV", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    loaded = emstat.load_fit(out)
    direct = emstat.fit_mixture(emstat.load_dataset("faithful"), k=3, model="VVV")
    assert loaded.loglik == pytest.approx(direct.loglik, rel=1e-12)
    assert loaded.bic == pytest.approx(direct.bic, rel=1e-12)
    assert f"{direct.loglik:.6f}" in result.output
    shown = runner.invoke(app, ["show", str(out)])
    assert shown.exit_code == 0 and "model VVV, k = 3" in shown.output
    again = runner.invoke(app, ["fit", str(faithful_csv), "--k", "3", "--out", str(out)])
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_warnings_are_one_line_without_a_source_path(faithful_csv: Path) -> None:
    # three iterations stop at the cap (a fit stopped short no longer costs its standard errors)
    result = runner.invoke(
        app, ["fit", str(faithful_csv), "--k", "3", "--model", "VVV", "--max-iter", "3"]
    )
    assert result.exit_code == 0, result.output
    warning_lines = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warning_lines) == 1
    assert "iteration cap (3)" in warning_lines[0]
    assert ".py:" not in result.output


def test_select_prints_table_and_choice(faithful_csv: Path) -> None:
    result = runner.invoke(
        app,
        ["select", str(faithful_csv), "--k", "1:3", "--columns", "eruptions,waiting", "--mclust"],
    )
    assert result.exit_code == 0, result.output
    assert "best: model EEE with k = 3" in result.output
    assert "larger is better" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "missing.csv", "--k", "2"], "no file 'missing.csv'"),
        (["select", "{data}", "--k", "a:b"], "--k takes"),
        (["fit", "{data}", "--k", "2", "--model", "XYZ"], "unknown covariance model"),
        (["fit", "{empty}", "--k", "2"], "is empty"),
        (["fit", "{strings}", "--k", "2"], "column 'name' is not numeric"),
    ],
)
def test_errors_are_one_line_without_traceback(
    args: list[str], message: str, faithful_csv: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    strings = tmp_path / "strings.csv"
    strings.write_text("name,x\na,1\nb,2\nc,3\n")
    args = [a.format(data=faithful_csv, empty=empty, strings=strings) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output.replace("\n", " ")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("text", "ks"), [("3", [3]), ("1:4", [1, 2, 3, 4]), ("1,2,5", [1, 2, 5])])
def test_parse_ks(text: str, ks: list[int]) -> None:
    assert parse_ks(text) == ks


@pytest.mark.parametrize("text", ["0", "", "x", "3:1:2"])
def test_parse_ks_rejects(text: str) -> None:
    with pytest.raises(InputError):
        parse_ks(text)


def split_faithful(tmp_path: Path, suffix: str) -> list[Path]:
    frame = emstat.load_dataset("faithful")
    paths = []
    for i, part in enumerate((frame.iloc[:100], frame.iloc[100:200], frame.iloc[200:])):
        path = tmp_path / f"part{i}{suffix}"
        part.to_parquet(path) if suffix == ".parquet" else part.to_csv(path, index=False)
        paths.append(path)
    return paths


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_fit_streams_several_files(tmp_path: Path, suffix: str) -> None:
    paths = split_faithful(tmp_path, suffix)
    out = tmp_path / "fit.json"
    args = ["fit", *map(str, paths), "--k", "2", "--model", "EEE", "--init", "kmeans++"]
    result = runner.invoke(app, [*args, "--chunk-rows", "50", "--out", str(out)])
    assert result.exit_code == 0, result.output
    direct = emstat.fit_mixture(emstat.load_dataset("faithful"), 2, "EEE", init="kmeans++")
    assert emstat.load_fit(out).loglik == pytest.approx(direct.loglik, rel=1e-10)


def test_fit_names_missing_files_and_bad_chunk_rows(tmp_path: Path) -> None:
    paths = split_faithful(tmp_path, ".csv")
    missing = runner.invoke(app, ["fit", str(paths[0]), "nowhere.csv", "--k", "2"])
    assert missing.exit_code == 2 and "no file 'nowhere.csv'" in missing.output
    bad = runner.invoke(app, ["fit", str(paths[0]), "--k", "2", "--chunk-rows", "0"])
    assert bad.exit_code == 2 and "--chunk-rows must be at least 1" in bad.output


def test_fit_on_a_dask_scheduler(tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    paths = split_faithful(tmp_path, ".parquet")
    out = tmp_path / "fit.json"
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        result = runner.invoke(
            app,
            ["fit", *map(str, paths), "--k", "2", "--model", "EEE", "--init", "kmeans++",
             "--scheduler", cluster.scheduler_address, "--out", str(out)],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    direct = emstat.fit_mixture(emstat.load_dataset("faithful"), 2, "EEE", init="kmeans++")
    assert emstat.load_fit(out).loglik == pytest.approx(direct.loglik, rel=1e-10)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("inf.csv", "eruptions,waiting\n1.0,inf\n2.0,3.0\n", "(from '{path}'): infinite"),
        ("text.csv", "eruptions,waiting\n1.0,a\n2.0,b\n", "(from '{path}'): column 'waiting'"),
        ("empty.csv", "", "'{path}' is empty"),
        ("ragged.csv", "eruptions,waiting\n1,2\n3,4,5,6\n", "cannot read '{path}'"),
        ("broken.parquet", "not parquet", "cannot read '{path}'"),
    ],
)
def test_streamed_files_name_the_bad_one(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    good = split_faithful(tmp_path, ".csv")[0]
    bad = tmp_path / name
    bad.write_text(content)
    result = runner.invoke(app, ["fit", str(good), str(bad), "--k", "2"])
    assert result.exit_code == 2
    assert message.format(path=bad) in result.output.replace("\n", "")


def test_an_unreachable_scheduler_is_one_line(tmp_path: Path) -> None:
    dask = pytest.importorskip("dask")
    pytest.importorskip("dask.distributed")
    path = split_faithful(tmp_path, ".parquet")[0]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = runner.invoke(
            app, ["fit", str(path), "--k", "2", "--scheduler", "tcp://127.0.0.1:9"]
        )
    assert result.exit_code == 2
    assert "cannot connect to the Dask scheduler at 'tcp://127.0.0.1:9'" in result.output


def test_a_streamed_fit_prints_standard_errors(tmp_path: Path) -> None:
    paths = split_faithful(tmp_path, ".csv")
    result = runner.invoke(app, ["fit", *map(str, paths), "--k", "2", "--model", "EEE"])
    assert result.exit_code == 0, result.output
    assert "standard errors: observed information" in result.output
    direct = emstat.fit_mixture(emstat.load_dataset("faithful"), 2, "EEE")
    assert f"{direct.params['std_err'].iloc[1]:.6g}" in result.output
