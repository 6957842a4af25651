"""``--intervals`` of ``emstat fit`` and ``emstat select``: the fit's confidence intervals by
Wald, bootstrap or profile likelihood, printed under its summary or written as CSV."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from emstat._parsing import parse_list
from emstat.cli.options import Format
from emstat.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BootIntervalOption",
    "BootKindOption",
    "BootStartOption",
    "IntervalSettings",
    "IntervalsOption",
    "IntervalsOutOption",
    "LevelOption",
    "NBootOption",
    "format_intervals",
    "interval_settings",
    "intervals_table",
    "show_intervals",
]

_PANEL = "Intervals"

IntervalsOption = Annotated[
    str | None,
    typer.Option(
        "--intervals",
        help="Also give confidence intervals by these methods: wald, bootstrap, profile "
        "(comma-separated).",
        rich_help_panel=_PANEL,
    ),
]
LevelOption = Annotated[
    float,
    typer.Option("--level", help="Confidence level of --intervals.", rich_help_panel=_PANEL),
]
NBootOption = Annotated[
    int,
    typer.Option(
        "--n-boot", help="Bootstrap refits (--intervals bootstrap).", rich_help_panel=_PANEL
    ),
]
BootKindOption = Annotated[
    str,
    typer.Option(
        "--boot-kind",
        help="Bootstrap of mclust's MclustBootstrap: bs (rows resampled), wlbs (weighted "
        "likelihood), pb (parametric) or jk (jackknife).",
        rich_help_panel=_PANEL,
    ),
]
BootIntervalOption = Annotated[
    str | None,
    typer.Option(
        "--boot-interval",
        help="percentile (default), bca, basic or normal (the jackknife's only one).",
        rich_help_panel=_PANEL,
    ),
]
BootStartOption = Annotated[
    str,
    typer.Option(
        "--boot-start",
        help="Where refits start: fit (EM from the fitted parameters, as mclust) or "
        "estimator (the fit's own start, restarts and stopping rule again).",
        rich_help_panel=_PANEL,
    ),
]
IntervalsOutOption = Annotated[
    Path | None,
    typer.Option(
        "--intervals-out",
        help="Write the --intervals table as CSV (every digit).",
        rich_help_panel=_PANEL,
    ),
]


@dataclass(frozen=True)
class IntervalSettings:
    """What ``--intervals`` asks for, checked before the fit runs."""

    methods: tuple[str, ...]
    level: float
    n_boot: int
    kind: str
    interval: str | None
    start: str


def interval_settings(
    intervals: str | None,
    level: float,
    n_boot: int,
    kind: str,
    interval: str | None,
    start: str,
) -> IntervalSettings | None:
    """The checked settings, or None without ``--intervals``; refused in one line naming the
    option and its choices, before any fitting."""
    from emstat.inference.dispatch import METHODS
    from emstat.inference.estimator_refit import START_CHOICES
    from emstat.inference.intervals import INTERVALS
    from emstat.inference.refit import KINDS
    from emstat.results import wald_z

    methods = parse_list(intervals, "--intervals", "interval method")
    if methods is None:
        return None
    unknown = [name for name in methods if name not in METHODS]
    if unknown:
        raise InputError(
            f"--intervals: unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}"
        )
    try:
        wald_z(level)
    except InputError:
        raise InputError(f"--level must be between 0 and 1, got {level:g}") from None
    bootstrapped = "bootstrap" in methods
    for option, value, choices in (
        ("--boot-kind", kind, KINDS),
        ("--boot-start", start, START_CHOICES),
        ("--boot-interval", interval, (None, *INTERVALS)),
    ):
        if value not in choices:
            named = ", ".join(str(choice) for choice in choices if choice is not None)
            raise InputError(f"{option}: unknown choice {value!r}; choose from {named}")
    if bootstrapped and kind != "jk" and n_boot < 2:
        raise InputError(f"--n-boot must be at least 2, got {n_boot}")
    if bootstrapped and kind == "jk" and start == "estimator":
        raise InputError(
            "--boot-kind jk refits each leave-one-out sample from the fit: --boot-start fit"
        )
    if kind == "jk" and interval not in (None, "normal"):
        raise InputError(
            f"--boot-kind jk gives 'normal' intervals (estimate ± z·se), not {interval!r}"
        )
    return IntervalSettings(tuple(dict.fromkeys(methods)), level, n_boot, kind, interval, start)


def intervals_table(
    fit: Any, settings: IntervalSettings, *, seed: int, workers: int = 1
) -> tuple[pd.DataFrame, list[str]]:
    """Every requested method's intervals of ``fit``, one block of rows per method, and
    lines describing how they were computed (the bootstrap's refits and failures)."""
    import pandas as pd

    tables, notes = [], []
    for method in settings.methods:
        options: dict[str, Any] = {}
        if method == "bootstrap":
            boot = fit.bootstrap(
                n_boot=settings.n_boot,
                kind=settings.kind,
                seed=seed,
                workers=workers,
                start="fit" if settings.kind == "jk" else settings.start,
            )
            notes.append(boot.describe())
            options = {"boot": boot, "interval": settings.interval}
        tables.append(fit.conf_int(settings.level, method=method, **options))
    columns = ["method", "component", "parameter", "estimate", "std_err", "ci_low", "ci_high"]
    combined = pd.concat(tables, ignore_index=True)
    # a profile end stopped at a bound or at its evaluations' cap says so in its note
    extra = [name for name in ("scale", "note") if name in combined.columns]
    return combined[[*columns, *extra]], notes


def format_intervals(table: pd.DataFrame, level: float) -> str:
    """The table for people: one line per method and parameter, four significant digits."""
    shown = table.copy()
    if "note" in shown.columns:
        shown["note"] = shown["note"].fillna("")
    for name in ("estimate", "std_err", "ci_low", "ci_high"):
        shown[name] = shown[name].map(lambda value: f"{value:.4g}")
    return f"{100 * level:.4g}% confidence intervals\n" + shown.to_string(index=False)


def show_intervals(
    fit: Any,
    settings: IntervalSettings,
    out: Path | None,
    *,
    seed: int,
    workers: int = 1,
    fmt: Format = Format.table,
) -> None:
    """Print the intervals under the summary (on stderr when stdout carries a CSV or JSON
    table); with ``out``, write them as CSV too."""
    from emstat.cli.output import note

    table, notes = intervals_table(fit, settings, seed=seed, workers=workers)
    note("", fmt)
    note(format_intervals(table, settings.level), fmt)
    for line in notes:
        note(line, fmt)
    if out is not None:
        from emstat.simulation.storage import atomic_write

        # whole or not at all: a run killed mid-write leaves no part of a table
        atomic_write(Path(out), lambda tmp: table.to_csv(tmp, index=False))
        note(f"intervals written to {out}", fmt)
