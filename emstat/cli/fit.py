"""``emstat fit``: one mixture, Gaussian or of another family."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from emstat._parsing import parse_list
from emstat.cli.intervals import (
    BootIntervalOption,
    BootKindOption,
    BootStartOption,
    IntervalsOption,
    IntervalsOutOption,
    LevelOption,
    NBootOption,
    interval_settings,
    show_intervals,
)
from emstat.cli.options import (
    AlgorithmOption,
    ColumnsOption,
    CriterionOption,
    DataPaths,
    ExposureOption,
    FamilyOption,
    GaussianPriorOption,
    InitOption,
    InnerTolOption,
    LabelsOption,
    MaxIterOption,
    NInitOption,
    NoiseOption,
    NoiseStartOption,
    SeedOption,
    TolOption,
    TrialsOption,
    VinvOption,
    WeightsOption,
    check_target,
    family_options,
    noise_options,
    out_option,
    overwrite_option,
    scheduler_option,
    workers_option,
)
from emstat.cli.output import say
from emstat.errors import DegenerateFitError, InputError

__all__ = ["fit"]

_LARGE = "Large data"

MissingOption = Annotated[
    str,
    typer.Option(
        "--missing",
        help="Empty/NaN cells: em (fit them by EM, assuming missing at random) or error.",
    ),
]


def fit(
    data: DataPaths,
    k: Annotated[int, typer.Option("--k", "-k", help="Number of components.")],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Covariance model (VVV, EEE, V, full...).")
    ] = None,
    columns: ColumnsOption = None,
    init: InitOption = None,
    n_init: NInitOption = 1,
    seed: SeedOption = 0,
    tol: TolOption = None,
    inner_tol: InnerTolOption = None,
    criterion: CriterionOption = None,
    max_iter: MaxIterOption = None,
    out: Annotated[Path | None, out_option("Save the fit as JSON.")] = None,
    overwrite: Annotated[bool, overwrite_option("Replace an existing --out file.")] = False,
    chunk_rows: Annotated[
        int | None,
        typer.Option(
            "--chunk-rows",
            help="Stream the files in chunks of this many rows (memory stays bounded by it).",
            rich_help_panel=_LARGE,
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        scheduler_option(
            "Dask scheduler address: the E-steps run on its workers, over the files' "
            "partitions (the workers must see the same paths).",
            panel=_LARGE,
        ),
    ] = None,
    family: FamilyOption = "gaussian",
    trials: TrialsOption = None,
    exposure: ExposureOption = None,
    weights: WeightsOption = None,
    prior: GaussianPriorOption = None,
    labels: LabelsOption = None,
    noise: NoiseOption = False,
    noise_start: NoiseStartOption = None,
    vinv: VinvOption = None,
    algorithm: AlgorithmOption = "em",
    missing: MissingOption = "em",
    workers: Annotated[
        int, workers_option("Processes for the restarts and bootstrap refits (same results).")
    ] = 1,
    intervals: IntervalsOption = None,
    level: LevelOption = 0.95,
    n_boot: NBootOption = 999,
    boot_kind: BootKindOption = "bs",
    boot_interval: BootIntervalOption = None,
    boot_start: BootStartOption = "fit",
    intervals_out: IntervalsOutOption = None,
) -> None:
    """Fit one mixture (Gaussian, or another family) and print its summary."""
    from emstat.mixture import fit_mixture
    from emstat.mixture.sources import DEFAULT_CHUNK_ROWS

    check_target(out, "--out", overwrite)
    check_target(intervals_out, "--intervals-out", overwrite)
    settings = interval_settings(intervals, level, n_boot, boot_kind, boot_interval, boot_start)
    result = fit_mixture(
        _fit_input(data, chunk_rows, scheduler),
        k,
        model,
        **family_options(family, trials, exposure, weights),
        columns=parse_list(columns, "--columns", "column"),
        init=init,
        n_init=n_init,
        seed=seed,
        tol=tol,
        inner_tol=inner_tol,
        criterion=criterion,
        max_iter=max_iter,
        chunk_rows=chunk_rows or DEFAULT_CHUNK_ROWS,
        client=scheduler,
        prior=prior,
        labels=labels,
        **noise_options(noise, noise_start, vinv),
        algorithm=algorithm,
        missing=missing,
        workers=workers,
    )
    if not result.ok:
        raise DegenerateFitError(
            f"the fit is degenerate ({result.degenerate}); nothing was saved. "
            "Try a smaller --k, another --model or --init"
        )
    say(result.summary())
    if out is not None:
        result.save(out)
        say(f"saved to {out}")
    if settings is not None:
        show_intervals(result, settings, intervals_out, seed=seed, workers=workers)


def _fit_input(paths: list[Path], chunk_rows: int | None, scheduler: str | None) -> Any:
    """One file read whole; several files (or --chunk-rows) streamed; Dask with --scheduler."""
    from emstat._io import read_table
    from emstat._validation import describe_labels

    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise InputError(f"no file {describe_labels(missing)}")
    if chunk_rows is not None and chunk_rows < 1:
        raise InputError(f"--chunk-rows must be at least 1, got {chunk_rows}")
    if scheduler is not None:
        from emstat._optional import require

        dd = require("dask.dataframe", "dask")
        names = [str(path) for path in paths]
        parquet = [path.suffix.lower() in (".parquet", ".pq") for path in paths]
        if any(parquet) and not all(parquet):
            raise InputError("with --scheduler, give only Parquet files or only CSV files")
        try:
            return dd.read_parquet(names) if all(parquet) else dd.read_csv(names)
        except (ValueError, OSError) as exc:
            raise InputError(f"cannot read {describe_labels(names)}: {exc}") from None
    if len(paths) > 1 or chunk_rows is not None:
        return paths
    return read_table(paths[0])
