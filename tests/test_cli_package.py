"""The emstat.cli package: start-up imports, --format csv/json, progress on stderr only."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import emstat
from emstat import cli
from emstat.cli import COMMANDS, app
from emstat.cli._app import build_app
from emstat.datasets import dataset_path

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
# Neither forces rich to draw as on a terminal: CliRunner's stderr is no terminal.
PLAIN = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None}
FORMULA = "0.5*N(-3,1) + 0.5*N(3,1)"


def loaded_modules(code: str, *args: str) -> set[str]:
    """The top-level modules a fresh ``python -c CODE ARGS`` has loaded when it exits."""
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print(*sorted({m.split('.')[0] for m in sys.modules}), "
        "file=sys.stderr))\n" + code
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(done.stderr.split())


# --- start-up ---------------------------------------------------------------------
def test_import_emstat_loads_no_cli_plotting_or_compiled_kernels() -> None:
    loaded = loaded_modules("import emstat")
    assert "emstat" in loaded
    assert not loaded & {"typer", "rich", "click", "matplotlib", "numba"}
    # Nor the data stack: names load their modules when they are first used.
    assert not loaded & {"numpy", "pandas", "scipy"}


def test_help_loads_typer_but_no_numerical_stack() -> None:
    code = "import sys; sys.argv[0] = 'emstat'; from emstat.cli import main; main()"
    loaded = loaded_modules(code, "--help")
    assert {"typer", "rich"} <= loaded
    assert not loaded & {"numpy", "pandas", "scipy", "numba", "matplotlib"}


def _loaded_submodules(code: str) -> set[str]:
    """The modules (full dotted names) a fresh ``python -c CODE`` has loaded when it exits."""
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print(*sorted(sys.modules), file=sys.stderr))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe + code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(done.stderr.split())


def test_the_seeds_study_loads_no_scipy_special() -> None:
    # The seed's study: its Wald intervals (the weights' on the logit scale) need no
    # scipy.special (0.15 s to import); scipy.linalg comes only with numba's BLAS.
    imported = _loaded_submodules("import emstat.simulation")
    assert not imported & {"scipy.special", "scipy.linalg", "scipy.stats"}
    code = (
        "from emstat.simulation.design import make_design, mixture_from_formula\n"
        "from emstat.simulation.executors import prime\n"
        "from emstat.simulation.runner import plan_batches\n"
        "truth = mixture_from_formula('0.5*N(-0.8,1) + 0.5*N(0.8,1)')\n"
        "design = make_design(truth, n=[100], reps=1000, seed=1, k=[2], model=['V'])\n"
        "_, result = prime(plan_batches(design, set(), workers=2))\n"
        "assert result.rows['ci_low'].notna().all(), result.rows\n"
    )
    ran = _loaded_submodules(code)
    assert "emstat.mixture.fit" in ran
    assert not ran & {"scipy.special", "scipy.stats"}


_TYPER = tuple(int(part) for part in typer.__version__.split(".")[:2])


@pytest.mark.skipif(_TYPER >= (0, 29), reason="typer 0.29 (above pyproject's bound) uses pydantic")
def test_a_command_parses_its_options_without_pydantic() -> None:
    # typer 0.29 builds a pydantic TypeAdapter per option: 0.1 s before the command runs
    code = (
        "import sys; sys.argv[0] = 'emstat'; from emstat.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
    )
    loaded = loaded_modules(code, "fit", "--k", "2", "--model", "VVV", "no-such-file.csv")
    assert "typer" in loaded
    assert "pydantic" not in loaded


def test_the_library_progress_bar_loads_rich_but_not_typer() -> None:
    # simulate(progress=True) draws with emstat.cli.progress; it needs no typer app.
    loaded = loaded_modules("import emstat.cli.progress")
    assert "rich" in loaded and "typer" not in loaded


def test_a_public_name_loads_what_it_needs() -> None:
    loaded = loaded_modules("from emstat import fit_mixture")
    assert "pandas" in loaded
    assert not loaded & {"typer", "rich", "matplotlib"}


def test_every_public_name_is_importable_and_listed() -> None:
    names = set(emstat.__all__)
    assert names == set(emstat._LAZY) | {"__version__"}
    assert names <= set(dir(emstat))
    for name in names:
        assert getattr(emstat, name) is not None
    assert emstat.fit_mixture is emstat.mixture.fit_mixture
    assert emstat.crosscheck.mclust.__module__ == "emstat.crosscheck._mclust"
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        emstat.nothing_here  # noqa: B018


def test_report_stays_the_function_after_its_subpackage_is_imported() -> None:
    code = (
        "import emstat, emstat.report.api, emstat.report.figures\n"
        "assert emstat.report is emstat.report.__globals__['report'], emstat.report\n"
        "print(emstat.report.__module__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "emstat.report.api"


def test_help_shows_library_defaults() -> None:
    # The defaults --help shows are repeated in emstat.cli so that it needs no numpy.
    from emstat.categorical.frontend import CAT_CONTROL, MAX_CELLS
    from emstat.cli import options, simulate
    from emstat.simulation.formula import FORMULA_HELP
    from emstat.simulation.runner import MAX_FAILED

    assert (options.CAT_TOL, options.CAT_MAX_ITER) == (CAT_CONTROL.tol, CAT_CONTROL.max_iter)
    assert options.CAT_MAX_CELLS == MAX_CELLS
    assert simulate.MAX_FAILED == MAX_FAILED
    assert simulate.FORMULA_HELP == FORMULA_HELP


# --- registration -----------------------------------------------------------------
def _hello(name: str) -> None:
    """Say hello."""
    from emstat.errors import InputError

    if name == "nobody":
        raise InputError("nobody to greet")
    typer.echo(f"hello {name}")


def test_one_line_registers_a_command_and_a_sub_command(monkeypatch) -> None:
    group = typer.Typer(name="greet", no_args_is_help=True)
    monkeypatch.setattr(sys.modules[__name__], "GROUP", group, raising=False)
    built = build_app(
        {
            "hello": f"{__name__}:_hello",
            "greet": f"{__name__}:GROUP",
            "greet again": f"{__name__}:_hello",
        }
    )
    assert runner.invoke(built, ["hello", "ann"]).output == "hello ann\n"
    assert runner.invoke(built, ["greet", "again", "bo"]).output == "hello bo\n"
    # The one error wrapper is applied on registration: one line, exit 2.
    refused = runner.invoke(built, ["greet", "again", "nobody"])
    assert refused.exit_code == 2
    assert refused.output.strip() == "error: nobody to greet"


def test_a_sub_command_needs_its_group_listed_first() -> None:
    with pytest.raises(ValueError, match="no group 'greet'"):
        build_app({"greet again": f"{__name__}:_hello"})


def test_every_listed_command_is_on_the_app() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f" {name} " in result.output
    assert "--install-completion" in result.output
    assert set(cli.__all__) <= set(dir(cli))


# --- --format ---------------------------------------------------------------------
def _printed_table(text: str, models: list[str]) -> dict[tuple[int, str], float]:
    """The criterion table ``emstat select`` prints, read back from its text."""
    cells = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == len(models) + 1 and parts[0].isdigit():
            for model, value in zip(models, parts[1:], strict=True):
                cells[(int(parts[0]), model)] = float(value)
    return cells


SELECT = ["--k", "1:3", "--models", "EII,VVV"]


def test_select_csv_and_json_hold_the_table_and_nothing_else(tmp_path: Path) -> None:
    data = str(dataset_path("faithful"))
    text = runner.invoke(app, ["select", data, *SELECT], env=PLAIN)
    out = tmp_path / "best.json"
    as_csv = runner.invoke(app, ["select", data, *SELECT, "--format", "csv", "-o", str(out)])
    as_json = runner.invoke(app, ["select", data, *SELECT, "--format", "json"])
    assert text.exit_code == as_csv.exit_code == as_json.exit_code == 0, as_csv.output
    frame = pd.read_csv(io.StringIO(as_csv.stdout))
    records = json.loads(as_json.stdout)
    assert list(frame.columns) == ["k", "model", "bic"]
    assert frame.to_dict(orient="records") == records
    # The numbers of the table people read (3 decimals) and of the library itself.
    printed = _printed_table(text.stdout, ["EII", "VVV"])
    oracle = emstat.select_mixture(emstat.load_dataset("faithful"), [1, 2, 3], ["EII", "VVV"])
    assert len(printed) == len(frame) == 6
    for row in records:
        key = (row["k"], row["model"])
        assert row["bic"] == oracle.table.loc[key]
        assert round(row["bic"], 3) == pytest.approx(printed[key], abs=1e-9)
    # Messages beside the table go to stderr: stdout stays one table.
    assert "saved to" in as_csv.stderr and "saved to" not in as_csv.stdout
    assert out.is_file()


def test_select_mclust_sign_in_csv() -> None:
    data = str(dataset_path("faithful"))
    args = ["select", data, "--k", "2", "--models", "VVV", "--format", "csv"]
    smaller = pd.read_csv(io.StringIO(runner.invoke(app, args).stdout))
    mclust = pd.read_csv(io.StringIO(runner.invoke(app, [*args, "--mclust"]).stdout))
    assert mclust["bic"].iloc[0] == -smaller["bic"].iloc[0]


def test_select_json_writes_null_for_a_cell_with_no_fit(tmp_path: Path) -> None:
    path = tmp_path / "three.csv"
    pd.DataFrame({"x": [0.0, 1.0, 5.0], "y": [1.0, 0.0, 4.0]}).to_csv(path, index=False)
    result = runner.invoke(
        app, ["select", str(path), "--k", "1,4", "--models", "EII", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [row["k"] for row in records] == [1, 4]
    assert records[1]["bic"] is None and isinstance(records[0]["bic"], float)


def test_show_csv_is_the_fits_estimates(tmp_path: Path) -> None:
    out = tmp_path / "fit.json"
    fitted = runner.invoke(app, ["fit", str(dataset_path("faithful")), "-k", "2", "-o", str(out)])
    assert fitted.exit_code == 0, fitted.output
    shown = runner.invoke(app, ["show", str(out), "--format", "csv"])
    assert shown.exit_code == 0, shown.output
    frame = pd.read_csv(io.StringIO(shown.stdout))
    expected = emstat.load_fit(out).params
    assert list(frame.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(frame, expected.reset_index(drop=True), check_dtype=False)
    as_json = json.loads(runner.invoke(app, ["show", str(out), "--format", "JSON"]).stdout)
    assert [row["estimate"] for row in as_json] == expected["estimate"].tolist()


def test_catem_json_is_the_fits_estimates(tmp_path: Path) -> None:
    data = dataset_path("crimes")
    out = tmp_path / "cat.json"
    args = ["catem", str(data), "--counts", "N", "--format", "json", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    direct = emstat.fit_categorical(pd.read_csv(data), "N").params
    assert [row["estimate"] for row in records] == direct["estimate"].tolist()
    assert [row["V1"] for row in records] == direct["V1"].tolist()
    assert "fit written to" in result.stderr and out.is_file()


class _Check:
    """A cross-check's outcome without R: its table and verdict."""

    def __init__(self, agree: bool) -> None:
        self.agree = agree
        self.table = pd.DataFrame(
            {"model": ["EII", "VVV"], "k": [1, 2], "bic_rel_diff": [1e-9, 0.5]}
        )

    def summary(self) -> str:
        return "the side-by-side table\nAGREE" if self.agree else "DISAGREE"


@pytest.mark.parametrize("agree, code", [(True, 0), (False, 1)])
def test_crosscheck_csv_is_its_table_and_keeps_the_exit_code(monkeypatch, agree, code) -> None:
    import emstat.crosscheck._mclust as mclust_module

    monkeypatch.setattr(mclust_module, "mclust", lambda *args, **kwargs: _Check(agree))
    data = str(dataset_path("faithful"))
    result = runner.invoke(app, ["crosscheck", "mclust", data, "--format", "csv"])
    assert result.exit_code == code, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    pd.testing.assert_frame_equal(frame, _Check(agree).table)
    assert "AGREE" not in result.stdout


def test_simulate_csv_is_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    args = ["simulate", "--mixture", FORMULA, "--n", "60", "--reps", "3", "--workers", "1"]
    result = runner.invoke(app, [*args, "--out-dir", str(out), "--format", "csv"], env=PLAIN)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    saved = pd.read_csv(out / "summary.csv")
    columns = ["scenario", "component", "parameter", "truth", "mean", "bias", "rmse"]
    pd.testing.assert_frame_equal(frame[columns], saved[columns], check_dtype=False)
    assert "results in" in result.stderr and "results in" not in result.stdout


def test_an_unknown_format_is_refused() -> None:
    result = runner.invoke(app, ["show", "fit.json", "--format", "xml"])
    assert result.exit_code == 2
    assert "xml" in result.output and "table" in result.output


# --- progress ---------------------------------------------------------------------
SIMULATE = ["simulate", "--mixture", FORMULA, "--n", "60", "--reps", "4", "--workers", "1"]


def test_simulate_draws_a_bar_on_stderr_of_a_terminal(tmp_path: Path) -> None:
    args = [*SIMULATE, "--out-dir", str(tmp_path / "sim")]
    result = runner.invoke(app, args, env={"TTY_COMPATIBLE": "1"})
    assert result.exit_code == 0, result.output
    assert "replicates" in result.stderr and "4/4" in result.stderr
    assert "replicates" not in result.stdout


@pytest.mark.parametrize(
    "extra, env", [(["--quiet"], {"TTY_COMPATIBLE": "1"}), ([], PLAIN)], ids=["quiet", "pipe"]
)
def test_simulate_is_silent_when_quiet_or_not_a_terminal(tmp_path: Path, extra, env) -> None:
    args = [*SIMULATE, "--out-dir", str(tmp_path / "sim"), *extra]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_select_shows_a_spinner_only_on_a_terminal() -> None:
    args = ["select", str(dataset_path("faithful")), "--k", "1:2", "--models", "EII"]
    shown = runner.invoke(app, args, env={"TTY_COMPATIBLE": "1"})
    quiet = runner.invoke(app, [*args, "--quiet"], env={"TTY_COMPATIBLE": "1"})
    piped = runner.invoke(app, args, env=PLAIN)
    assert shown.exit_code == quiet.exit_code == piped.exit_code == 0
    assert "selecting among k = 1:2" in shown.stderr
    assert quiet.stderr == piped.stderr == ""


def test_python_m_simulation_runs_the_command_alone(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    args = ["--mixture", FORMULA, "--n", "60", "--reps", "2", "--workers", "1", "-o", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "emstat.simulation", *args, "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == len(pd.read_csv(out / "summary.csv"))
    assert done.stderr.strip() == f"results in {out}"


def test_shell_completion_completes_commands_and_choices() -> None:
    def complete(words: str, index: int) -> list[str]:
        env = {"_EMSTAT_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(index)}
        result = runner.invoke(app, [], env=env, prog_name="emstat")
        assert result.exit_code == 0, result.output
        return result.stdout.split()

    assert complete("emstat se", 1) == ["select", "segment"]
    assert complete("emstat sel", 1) == ["select"]
    assert complete("emstat select data.csv --format ", 4) == ["table", "csv", "json"]


# --- one numba policy -------------------------------------------------------------
def test_a_fit_needs_numba_and_never_falls_back_to_numpy() -> None:
    # numba is a dependency: without it a fit fails loudly, for every covariance model,
    # rather than running numpy's loops (the tests' oracles) many times slower.
    code = (
        "import sys\n"
        "sys.modules['numba'] = None\n"
        "import emstat\n"
        "data = emstat.load_dataset('faithful')\n"
        "for model in ('VVV', 'EII', 'VEV'):\n"
        "    try:\n"
        "        emstat.fit_mixture(data, 2, model, init='quantile')\n"
        "    except ImportError as exc:\n"
        "        print(model, 'numba' in str(exc))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["VVV", "True", "EII", "True", "VEV", "True"]
