"""The simulation-study report, read from a study's output directory.

A study directory holds ``summary.csv`` (one row per scenario, parameter and
component: truth, mean, bias, sd, rmse, coverage, share converged, mean
iterations), and optionally ``replicates.parquet`` (one row per replicate and
estimate), ``selection.parquet`` (the k and model each criterion chose) and
``run.json`` (the design, seed, command and versions).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emstat.errors import InputError
from emstat.report import figures
from emstat.report.document import Document, Section
from emstat.report.markdown import (
    FigureBlock,
    bold,
    callout,
    code_block,
    fmt_fixed,
    fmt_sig,
    md_escape,
    paragraph,
    pipe_table,
)
from emstat.report.provenance import reproduce_section
from emstat.report.registry import register_report

__all__ = [
    "SimulationResults",
    "closest_methods",
    "convergence_table",
    "interval_table",
    "k_choices",
    "load_simulation",
    "simulation_document",
    "summary_table",
]

_SUMMARY_REQUIRED = ("scenario", "parameter", "truth", "mean", "bias", "rmse", "coverage")


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Column names in snake case (``share converged`` -> ``share_converged``)."""
    return frame.rename(
        columns=lambda c: str(c).strip().lower().replace(" ", "_").replace("-", "_")
    )


@dataclass(frozen=True, eq=False)
class SimulationResults:
    """What a simulation study left behind (any part but the summary may be missing)."""

    summary: pd.DataFrame
    replicates: pd.DataFrame | None = None
    selection: pd.DataFrame | None = None
    run: dict[str, Any] | None = None
    directory: Path | None = None

    @classmethod
    def from_summary(cls, summary: pd.DataFrame) -> SimulationResults:
        """Only the summary table (what :func:`emstat.simulate` returns)."""
        return cls(summary=_check_summary(_normalise(summary)))

    @property
    def n_reps(self) -> int | None:
        """Replicates per scenario (the largest), when known."""
        if self.replicates is not None and "replicate" in self.replicates:
            return int(self.replicates.groupby("scenario")["replicate"].nunique().max())
        if self.run is not None:
            for key in ("n_reps", "reps", "replicates", "n_replicates"):
                if isinstance(self.run.get(key), int):
                    return int(self.run[key])
        return None


def _check_summary(summary: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _SUMMARY_REQUIRED if c not in summary.columns]
    if missing:
        raise InputError(
            f"a simulation summary needs columns {list(_SUMMARY_REQUIRED)}; missing {missing}"
        )
    return summary


def load_simulation(directory: str | Path) -> SimulationResults:
    """Read a study's output directory (``summary.csv`` required, the rest optional)."""
    directory = Path(directory)
    summary_path = directory / "summary.csv"
    if not summary_path.is_file():
        raise InputError(f"{str(directory)!r} holds no summary.csv: is it a simulation output?")
    summary = _check_summary(_normalise(pd.read_csv(summary_path)))

    def parquet(name: str) -> pd.DataFrame | None:
        path = directory / name
        return _normalise(pd.read_parquet(path)) if path.is_file() else None

    run_path = directory / "run.json"
    run = json.loads(run_path.read_text()) if run_path.is_file() else None
    return SimulationResults(
        summary=summary,
        replicates=parquet("replicates.parquet"),
        selection=parquet("selection.parquet"),
        run=run,
        directory=directory,
    )


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Bias, RMSE and coverage per scenario and parameter, formatted as the report shows them."""
    component = summary["component"] if "component" in summary else pd.Series([None] * len(summary))
    return pd.DataFrame(
        {
            "scenario": [md_escape(s) for s in summary["scenario"]],
            "parameter": [md_escape(p) for p in summary["parameter"]],
            "comp.": ["" if pd.isna(c) else md_escape(_int_text(c)) for c in component],
            "truth": [fmt_sig(v) for v in summary["truth"]],
            "mean": [fmt_sig(v) for v in summary["mean"]],
            "bias": [fmt_sig(v, 3) for v in summary["bias"]],
            "sd": [fmt_sig(v, 3) for v in summary["sd"]] if "sd" in summary else "",
            "RMSE": [fmt_sig(v, 3) for v in summary["rmse"]],
            "coverage": [fmt_fixed(v, 3) for v in summary["coverage"]],
        }
    )


def _by_method(summary: pd.DataFrame) -> pd.DataFrame:
    from emstat.simulation.summarise import interval_summary

    return interval_summary(summary)


def closest_methods(by_method: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per scenario and parameter: the method whose coverage is closest to ``level``.

    Columns: scenario, component, parameter, method, coverage, coverage_se,
    and ``tie`` (the runner-up is as close within 1.96 Monte Carlo standard
    errors of the two distances' difference).
    """
    rows = []
    frame = by_method.dropna(subset=["coverage"])
    for key, group in frame.groupby(["scenario", "component", "parameter"], sort=False):
        distance = (group["coverage"] - level).abs().to_numpy()
        order = np.argsort(distance, kind="stable")
        best = group.iloc[order[0]]
        tie = False
        if len(order) > 1:
            other = group.iloc[order[1]]
            spread = math.hypot(float(best["coverage_se"] or 0), float(other["coverage_se"] or 0))
            tie = bool(distance[order[1]] - distance[order[0]] <= 1.959963984540054 * spread)
        rows.append(
            (*key, best["method"], float(best["coverage"]), float(best["coverage_se"]), tie)
        )
    columns = ["scenario", "component", "parameter", "method", "coverage", "coverage_se", "tie"]
    return pd.DataFrame(rows, columns=columns)


def interval_table(by_method: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """One row per scenario, parameter and method: coverage ± MC SE, width, share with one.

    The method closest to ``level`` for each parameter is in bold.
    """
    closest = {
        (r["scenario"], r["component"], r["parameter"]): str(r["method"])
        for r in closest_methods(by_method, level).to_dict("records")
    }
    out = []
    for r in by_method.to_dict("records"):
        best = closest.get((r["scenario"], r["component"], r["parameter"])) == r["method"]
        method = md_escape(r["method"])
        out.append(
            {
                "scenario": md_escape(r["scenario"]),
                "parameter": md_escape(r["parameter"]),
                "comp.": "" if pd.isna(r["component"]) else md_escape(_int_text(r["component"])),
                "truth": fmt_sig(r["truth"]),
                "method": bold(method) if best else method,
                "coverage": f"{fmt_fixed(r['coverage'], 3)} ± {fmt_fixed(r['coverage_se'], 3)}",
                "median width": fmt_sig(r["median_width"], 3),
                "mean width": fmt_sig(r["mean_width"], 3),
                "with interval": fmt_fixed(r["with_interval"], 3),
            }
        )
    return pd.DataFrame(out)


def _interval_blocks(summary: pd.DataFrame) -> list[Any]:
    """The section comparing interval methods (empty when the study compared none)."""
    from emstat.report.interval_figures import interval_coverage_plot

    by_method = _by_method(summary)
    if by_method.empty:
        return []
    closest = closest_methods(by_method)
    sentences = [
        f"{md_escape(r['parameter'])}"
        + ("" if pd.isna(r["component"]) else f" ({_int_text(r['component'])})")
        + f": **{md_escape(r['method'])}** ({fmt_fixed(r['coverage'], 3)} ± "
        f"{fmt_fixed(r['coverage_se'], 3)}"
        + (", a tie within Monte Carlo error" if r["tie"] else "")
        + ")"
        for r in closest.to_dict("records")
    ]
    return [
        paragraph(
            "Each replicate's 95% interval by every method; coverage is over the replicates "
            "with that interval, ± its Monte Carlo standard error sqrt(p (1 − p) / R); "
            "'with interval' is the share of all replicates that have one.",
            "Closest to 0.95 per parameter: " + "; ".join(sentences) + ".",
        ),
        pipe_table(
            interval_table(by_method),
            "Coverage ± Monte Carlo SE, median and mean width and share of replicates with "
            "an interval, "
            "per method; in bold the method closest to 0.95.",
            full_width=True,
        ),
        FigureBlock(
            "interval-coverage",
            interval_coverage_plot(by_method),
            "Coverage of each interval method per parameter, with ±1.96 Monte Carlo standard "
            "errors; the line is the nominal 0.95.",
            width=95,
        ),
    ]


def _int_text(value: Any) -> str:
    try:
        return str(int(value)) if float(value) == int(float(value)) else str(value)
    except (TypeError, ValueError):
        return str(value)


def convergence_table(results: SimulationResults) -> pd.DataFrame:
    """Share of replicates converged and iterations, per scenario."""
    reps = results.replicates
    if reps is not None and {"converged", "n_iter"} <= set(reps.columns):
        runs = reps.drop_duplicates(["scenario", "replicate"])
        grouped = runs.groupby("scenario", sort=False)
        frame = pd.DataFrame(
            {
                "replicates": grouped["replicate"].nunique(),
                "share converged": grouped["converged"].mean(),
                "mean iterations": grouped["n_iter"].mean(),
                "max iterations": grouped["n_iter"].max(),
            }
        )
        if "seconds" in runs:
            frame["median seconds"] = grouped["seconds"].median()
    else:
        columns = [
            c
            for c in ("share_converged", "converged", "mean_iterations", "mean_iter")
            if c in results.summary
        ]
        if not columns:
            return pd.DataFrame()
        frame = results.summary.groupby("scenario", sort=False)[columns].first()
        frame.columns = [c.replace("_", " ") for c in columns]
    out = pd.DataFrame({"scenario": [md_escape(s) for s in frame.index]})
    for column in frame.columns:
        values = frame[column].to_numpy()
        if column.startswith("share"):
            out[column] = [fmt_fixed(v, 3) for v in values]
        elif column in ("replicates", "max iterations"):
            out[column] = [str(int(v)) for v in values]
        else:
            out[column] = [fmt_fixed(v, 1 if "iterations" in column else 3) for v in values]
    return out


def k_choices(selection: pd.DataFrame) -> pd.DataFrame:
    """How often each criterion chose each k: columns scenario, criterion, k, count.

    Reads either a long table (columns ``criterion`` and ``k``) or a wide one
    (columns ``bic_k``, ``aic_k``, ``icl_k`` ... or ``bic``, ``aic``, ``icl``
    holding the chosen k).
    """
    frame = _normalise(selection)
    if "scenario" not in frame:
        frame = frame.assign(scenario="all")
    if {"criterion", "k"} <= set(frame.columns):
        long = frame[["scenario", "criterion", "k"]]
    else:
        wide = [c for c in frame.columns if c.endswith("_k")] or [
            c for c in ("bic", "aic", "icl") if c in frame
        ]
        if not wide:
            raise InputError(
                "selection.parquet needs columns criterion and k, or bic_k/aic_k/icl_k"
            )
        long = frame.melt(
            id_vars=["scenario"], value_vars=wide, var_name="criterion", value_name="k"
        )
        long["criterion"] = long["criterion"].str.removesuffix("_k")
    long = long.dropna(subset=["k"]).astype({"k": int})
    long = long[long["k"] >= 1]  # k = -1 marks a replicate whose selection failed
    return (
        long.groupby(["scenario", "criterion", "k"], sort=False)
        .size()
        .rename("count")
        .reset_index()
    )


def _k_choice_table(choices: pd.DataFrame) -> pd.DataFrame:
    wide = choices.pivot_table(
        index=["scenario", "criterion"], columns="k", values="count", fill_value=0, sort=False
    )
    out = pd.DataFrame(
        {
            "scenario": [md_escape(s) for s, _ in wide.index],
            "criterion": [str(c).upper() for _, c in wide.index],
        }
    )
    for k in wide.columns:
        out[f"k = {k}"] = [str(int(v)) for v in wide[k]]
    return out


def _design_blocks(results: SimulationResults) -> list[Any]:
    scenarios = list(dict.fromkeys(results.summary["scenario"]))
    n_reps = results.n_reps
    blocks: list[Any] = [
        paragraph(
            f"{len(scenarios)} scenario(s): {', '.join(md_escape(s) for s in scenarios)}.",
            f"{n_reps} replicates per scenario." if n_reps else "",
            f"Results read from `{results.directory.name}/`." if results.directory else "",
        )
    ]
    run = results.run or {}
    if _is_hmm_study(run):
        blocks.append(
            paragraph(
                "The study fits hidden Markov models: a component is a hidden state; its "
                "parameters are its start probability (`start`), its row of the transition "
                "matrix (`to j`: the probability of moving from the state to state j) and its "
                "emission parameters. States are matched to the true ones by their emission "
                "parameters, and a transition is compared with the true transition between "
                "the matched states.",
                _sequences_text(run),
            )
        )
    design = {k: v for k, v in run.items() if k not in ("versions", "command", "argv")}
    scalars = {k: v for k, v in design.items() if not isinstance(v, (dict, list))}
    nested = {k: v for k, v in design.items() if isinstance(v, (dict, list))}
    if scalars:
        table = pd.DataFrame(
            [(md_escape(k), md_escape(v)) for k, v in scalars.items()], columns=["setting", "value"]
        )
        blocks.append(pipe_table(table, "Settings of the study (run.json)", align=["l", "l"]))
    for key, value in nested.items():
        blocks.append(_nested_block(key, value))
    return blocks


def _is_hmm_study(run: dict[str, Any]) -> bool:
    """Whether run.json describes a study of hidden Markov models."""
    design = run.get("design")
    truth = design.get("mixture") if isinstance(design, dict) else None
    return isinstance(truth, dict) and truth.get("kind") == "hmm"


def _sequences_text(run: dict[str, Any]) -> str:
    """How many sequences a data set holds, and how long each is (the grid's n)."""
    design = run["design"]
    sequences = design["mixture"].get("sequences")
    lengths = design.get("grid", {}).get("n")
    if not isinstance(sequences, int) or not isinstance(lengths, list):
        return ""
    steps = ", ".join(str(n) for n in lengths)
    return f"Each data set holds {sequences} sequence(s) of n = {steps} steps each."


def _panel_width(summary: pd.DataFrame) -> int:
    """Page width (%) of a figure with one panel per scenario, up to three a row."""
    return min(95, 40 * summary["scenario"].nunique())


def _nested_block(key: str, value: Any) -> str:
    """A dict of dicts as a table (one row per entry), anything else as compact JSON."""
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        fields = list(dict.fromkeys(f for v in value.values() for f in v))
        table = pd.DataFrame(
            [
                [md_escape(name), *(md_escape(_compact(v.get(f, ""))) for f in fields)]
                for name, v in value.items()
            ],
            columns=[key, *fields],
        )
        return pipe_table(table, f"{key} (run.json)", align=["l"] * (len(fields) + 1))
    text = _compact(value)
    if len(text) > 3000:
        text = text[:3000] + " ..."
    return paragraph(f"{md_escape(key)}:") + "\n\n" + code_block(text, "json")


def _compact(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "), default=str)


def simulation_document(results: SimulationResults, *, title: str | None = None) -> Document:
    """The whole report of a simulation study."""
    summary = results.summary
    n_reps = results.n_reps
    mc_text = (
        f" With R = {n_reps} replicates the Monte-Carlo standard error of a true 95% coverage "
        f"is {fmt_fixed(math.sqrt(0.95 * 0.05 / n_reps), 4)}; the grey band is ±1.96 of it."
        if n_reps
        else ""
    )
    accuracy: list[Any] = [
        pipe_table(
            summary_table(summary),
            "Bias (mean − truth), standard deviation, root mean squared error and coverage of "
            "the 95% interval, over replicates.",
            full_width=True,
        ),
        FigureBlock(
            "coverage",
            _coverage_figure(summary, n_reps),
            "Coverage of the 95% intervals per parameter." + mc_text,
            width=95,
        ),
    ]
    if results.replicates is not None and {"truth", "estimate"} <= set(results.replicates.columns):
        accuracy.append(
            FigureBlock(
                "estimates",
                _estimates_figure(results.replicates),
                "Every replicate's estimates against the true values; the line is y = x.",
                width=_panel_width(summary),
            )
        )
    sections = [
        Section("Design", _design_blocks(results)),
        Section("Bias, RMSE and coverage", accuracy),
    ]
    interval_blocks = _interval_blocks(summary)
    if interval_blocks:
        sections.append(Section("Interval methods compared", interval_blocks))
    if results.selection is not None:
        choices = k_choices(results.selection)
        sections.append(
            Section(
                "Choice of the number of components",
                [
                    pipe_table(
                        _k_choice_table(choices),
                        "Replicates in which each criterion chose each k.",
                    ),
                    FigureBlock(
                        "k-chosen",
                        _k_choice_figure(choices),
                        "How often each criterion chose each number of components.",
                        width=_panel_width(summary),
                    ),
                ],
            )
        )
    conv = convergence_table(results)
    conv_blocks: list[Any] = []
    if not conv.empty:
        conv_blocks.append(pipe_table(conv, "Convergence of EM per scenario."))
    if results.replicates is not None and "n_iter" in results.replicates:
        conv_blocks.append(
            FigureBlock(
                "iterations",
                _convergence_figure(results.replicates),
                "EM iterations per replicate, by scenario.",
                width=80,
            )
        )
    if conv_blocks:
        sections.append(Section("Convergence", conv_blocks))
    run = results.run or {}
    command = str(run.get("command") or run.get("argv") or "emstat.simulate(...)  # not recorded")
    if isinstance(run.get("argv"), list) and not run.get("command"):
        command = " ".join(str(a) for a in run["argv"])
    seed = run.get("seed")
    sections.append(reproduce_section(seed if isinstance(seed, int) else None, command, "sh"))
    if "versions" in run and isinstance(run["versions"], dict):
        sections[-1] = Section(
            sections[-1].title,
            [
                *sections[-1].blocks,
                callout(
                    "The study itself ran with: "
                    + ", ".join(
                        f"{md_escape(k)} {md_escape(v)}" for k, v in run["versions"].items()
                    )
                    + ".",
                    "Versions recorded in run.json",
                ),
            ],
        )
    return Document(
        title=title or "Simulation study",
        subtitle=f"{len(summary['scenario'].unique())} scenario(s)"
        + (f", {n_reps} replicates each" if n_reps else ""),
        sections=sections,
        metadata={"seed": "" if seed is None else str(seed), "command": command},
    )


def _is_directory(path: str | Path) -> bool:
    return Path(path).is_dir()


# --------------------------------------------------------------------------- figures


def _coverage_figure(summary: pd.DataFrame, n_reps: int | None) -> Any:
    rows = len(figures.coverage_labels(summary))
    fig = figures.new_figure(7.0, max(2.8, 0.22 * rows + 1.2))
    figures.coverage_plot(fig.add_subplot(), summary, n_reps)
    return fig


def _scenario_grid(scenarios: list[Any], height: float) -> tuple[Any, list[Any]]:
    return figures.panel_grid(len(scenarios), 3.3, height)


def _estimates_figure(replicates: pd.DataFrame, max_panels: int = 6) -> Any:
    scenarios = list(dict.fromkeys(replicates["scenario"]))[:max_panels]
    fig, axes = _scenario_grid(scenarios, 3.1)
    figures.estimates_plot(axes, replicates)
    return fig


def _k_choice_figure(choices: pd.DataFrame) -> Any:
    fig, axes = _scenario_grid(list(dict.fromkeys(choices["scenario"])), 2.9)
    figures.k_choice_plot(axes, choices)
    return fig


def _convergence_figure(replicates: pd.DataFrame) -> Any:
    scenarios = replicates.drop_duplicates(["scenario", "replicate"])["scenario"].nunique()
    fig = figures.new_figure(6.5, max(2.4, 0.45 * scenarios + 1.2))
    figures.convergence_plot(fig.add_subplot(), replicates)
    return fig


register_report(SimulationResults, simulation_document, "a simulation study")
register_report(
    pd.DataFrame,
    simulation_document,
    "a simulation study",
    arguments=lambda summary: (SimulationResults.from_summary(summary),),
)
for _path in (str, Path):
    register_report(
        _path,
        simulation_document,
        "a simulation study",
        when=_is_directory,
        arguments=lambda path: (load_simulation(path),),
    )
