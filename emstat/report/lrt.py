"""The report of a bootstrap likelihood-ratio test for the number of components.

The tests' table (statistic, bootstrap p-value, failed draws, decision), the
number of components the sequence supports, and each test's bootstrap
distribution against the observed statistic.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from emstat.mixture.lrt import LRTResult, records
from emstat.report.document import Document, Section
from emstat.report.lrt_figures import lrt_histogram
from emstat.report.markdown import (
    FigureBlock,
    bold,
    callout,
    code_block,
    fmt_fixed,
    fmt_int,
    md_escape,
    paragraph,
    pipe_table,
)
from emstat.report.provenance import reproduce_section
from emstat.report.registry import register_report

__all__ = ["lrt_document", "lrt_table"]


def lrt_table(result: LRTResult) -> pd.DataFrame:
    """One row per test, as text: the decisions in bold."""
    rows = []
    for row in records(result.table):
        rejected = bool(row["rejected"])
        decision = "rejected" if rejected else ("not tested" if row["note"] else "not rejected")
        rows.append(
            {
                "test": f"{row['k0']} vs {row['k1']}",
                "LRTS": fmt_fixed(row["statistic"], 3),
                "bootstrap p-value": fmt_fixed(row["p_value"], 3),
                "bootstrap samples": fmt_int(row["n_boot"]),
                "failed draws": fmt_int(row["n_failed"]),
                "decision": decision if rejected else bold(decision),
            }
        )
    return pd.DataFrame(rows)


def _decision_text(result: LRTResult) -> str:
    if result.untestable:
        return (
            f"The test of {result.chosen_k} vs {result.chosen_k + 1} components could not be "
            f"made (see the note): the sequence stops at **k = {result.chosen_k}**."
        )
    if result.every_test_rejected:
        return (
            f"Every test up to {result.max_k} vs {result.max_k + 1} components rejects at "
            f"level {result.level:g}: the data support **at least {result.chosen_k}** "
            "components (raise max_k to test further)."
        )
    return (
        f"The first test not rejected at level {result.level:g} is {result.chosen_k} vs "
        f"{result.chosen_k + 1}: the sequence chooses **k = {result.chosen_k}**."
    )


def _figures(result: LRTResult) -> list[Any]:
    blocks: list[Any] = []
    for row in records(result.table):
        k0, k1 = int(row["k0"]), int(row["k1"])
        if k0 not in result.bootstrap:
            continue
        observed = float(row["statistic"])
        blocks.append(
            FigureBlock(
                f"lrt-{k0}-vs-{k1}",
                lrt_histogram(result.bootstrap[k0], observed, k0, result.model),
                f"Bootstrap distribution of the LRTS of {k0} vs {k1} components "
                f"({fmt_int(row['n_boot'])} samples from the {k0}-component fit); the "
                f"dotted line is the observed {fmt_fixed(observed, 3)} "
                f"(p = {fmt_fixed(row['p_value'], 3)}).",
                width=70,
            )
        )
    return blocks


def _call(result: LRTResult, data_name: str) -> str:
    model = f"model={result.model!r}, " if result.model != "gaussian" else ""
    return (
        "import emstat, pandas as pd\n"
        f"df = pd.read_csv(...)  # {data_name}\n"
        f"lrt = emstat.bootstrap_lrt(df, {model}max_k={result.max_k}, "
        f"n_boot={result.n_boot}, level={result.level:g}, seed={result.seed!r})"
    )


def lrt_document(
    result: LRTResult,
    *,
    data_name: str = "the data",
    title: str | None = None,
    command: str | None = None,
    seed: int | None = None,
) -> Document:
    """The report of :func:`emstat.bootstrap_lrt`'s result.

    Parameters
    ----------
    result
        What :func:`emstat.bootstrap_lrt` returned.
    data_name, title, command, seed
        How the data are named, the title, the command that reproduces the
        test (default: the Python call) and its seed (default: the test's).
    """
    if seed is None:
        seed = result.seed
    code = command or _call(result, data_name)
    language = "python" if command is None else "sh"
    failed = int(result.table["n_failed"].sum())
    intro = [
        paragraph(
            f"Sequential bootstrap likelihood-ratio tests of k against k + 1 components "
            f"(model {md_escape(result.model)}) on **{md_escape(data_name)}**, "
            f"n = {result.n:g}, columns {md_escape(', '.join(result.columns))}.",
            f"Each test draws {fmt_int(result.n_boot)} samples from the k-component fit and "
            "refits k components (started from that fit) and k + 1 components (started from "
            "the (k + 1)-component fit), as mclust's mclustBootstrapLRT; the p-value is "
            "(1 + #{bootstrap LRTS ≥ observed}) / (B + 1).",
        ),
        code_block(code, language),
    ]
    blocks: list[Any] = [
        paragraph(_decision_text(result)),
        pipe_table(
            lrt_table(result),
            f"Tests of k vs k + 1 components; LRTS = 2 (log L(k + 1) − log L(k)); "
            f"level {result.level:g}.",
        ),
    ]
    if failed:
        blocks.append(
            callout(
                f"{failed} bootstrap samples had a refit that failed (a degenerate component) "
                "and were drawn again from the same stream, as mclust does.",
                "Failed refits",
            )
        )
    notes = [str(n) for n in result.table["note"] if n]
    if notes:
        blocks.append(callout(md_escape("; ".join(notes)), "Note", "warning"))
    sections = [
        Section("Data and call", intro),
        Section("Tests", blocks),
        Section("Bootstrap distributions", _figures(result) or ["No test was made."]),
        reproduce_section(seed, code, language),
    ]
    chosen = f"at least {result.chosen_k}" if result.every_test_rejected else f"{result.chosen_k}"
    return Document(
        title=title or f"How many components? Bootstrap LRT, model {result.model}",
        subtitle=f"k = {chosen}; {data_name}",
        sections=sections,
        metadata={"seed": "" if seed is None else str(seed), "command": code},
    )


register_report(LRTResult, lrt_document, "a bootstrap likelihood-ratio test")
