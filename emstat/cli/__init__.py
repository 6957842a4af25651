"""The ``emstat`` command line: thin typer commands over the library.

typer and rich are imported here (in ``emstat.cli``) and nowhere else in
emstat.  Importing this package is cheap: the typer app is built on first
use (:data:`app`, :func:`main`), and each command imports the library
inside its function, so ``emstat --help`` loads no numpy, pandas or numba.

Adding a command
----------------
Write it as a plain function whose parameters are ``Annotated`` typer
options (take the shared ones from :mod:`emstat.cli.options`, and import
the library inside the function), then add one line to :data:`COMMANDS`::

    "hmm": "emstat.hmm.cli:hmm",

The key is the command's name; the value is ``"module:attribute"``.  A
function becomes a command, wrapped in the one error handler
(:func:`emstat.cli.errors.friendly_errors`: emstat's errors as one line,
exit 2).  A ``typer.Typer`` becomes a group of sub-commands (``emstat
crosscheck ...``).  A name with a space adds a sub-command to a group
listed before it::

    "crosscheck hmmlearn": "emstat.hmm.crosscheck:hmmlearn",

A command that prints a table takes ``output_format: FormatOption`` and
prints through :func:`emstat.cli.output.emit_table`; long work draws its
progress with :mod:`emstat.cli.progress`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

    from emstat._parsing import number_or_column, parse_family, parse_ks, parse_list
    from emstat.cli.errors import err_console, friendly_errors
    from emstat.cli.options import (
        ColumnsOption,
        CriterionOption,
        DataPath,
        DataPaths,
        ExposureOption,
        FamilyOption,
        FormatOption,
        KOption,
        MaxIterOption,
        SeedOption,
        TolOption,
        TrialsOption,
        WeightsOption,
        check_target,
        family_options,
    )
    from emstat.cli.output import console, emit_table, say

__all__ = [
    "COMMANDS",
    "ColumnsOption",
    "CriterionOption",
    "DataPath",
    "DataPaths",
    "ExposureOption",
    "FamilyOption",
    "FormatOption",
    "KOption",
    "MaxIterOption",
    "SeedOption",
    "TolOption",
    "TrialsOption",
    "WeightsOption",
    "app",
    "check_target",
    "console",
    "emit_table",
    "err_console",
    "family_options",
    "freeze_heap_for_exit",
    "friendly_errors",
    "main",
    "number_or_column",
    "parse_family",
    "parse_ks",
    "parse_list",
    "say",
]

#: Every command of ``emstat``: its name -> ``"module:attribute"``, in the order of --help.
COMMANDS: dict[str, str] = {
    "fit": "emstat.cli.fit:fit",
    "select": "emstat.cli.select:select",
    "show": "emstat.cli.show:show",
    "catem": "emstat.cli.catem:catem",
    "simulate": "emstat.cli.simulate:simulate",
    "lrt": "emstat.cli.lrt:lrt",
    "report": "emstat.cli.report:report",
    "segment": "emstat.cli.segment:segment",
    "hmm": "emstat.cli.hmm:hmm",
    "crosscheck": "emstat.cli.crosscheck:crosscheck_app",
}

# Names other modules import from ``emstat.cli``, loaded when asked for.
_EXPORTS: dict[str, str] = {
    "app": "emstat.cli._app",
    "err_console": "emstat.cli.errors",
    "friendly_errors": "emstat.cli.errors",
    "console": "emstat.cli.output",
    "emit_table": "emstat.cli.output",
    "say": "emstat.cli.output",
    "number_or_column": "emstat._parsing",
    "parse_family": "emstat._parsing",
    "parse_ks": "emstat._parsing",
    "parse_list": "emstat._parsing",
    "ColumnsOption": "emstat.cli.options",
    "CriterionOption": "emstat.cli.options",
    "DataPath": "emstat.cli.options",
    "DataPaths": "emstat.cli.options",
    "ExposureOption": "emstat.cli.options",
    "FamilyOption": "emstat.cli.options",
    "FormatOption": "emstat.cli.options",
    "KOption": "emstat.cli.options",
    "MaxIterOption": "emstat.cli.options",
    "SeedOption": "emstat.cli.options",
    "TolOption": "emstat.cli.options",
    "TrialsOption": "emstat.cli.options",
    "WeightsOption": "emstat.cli.options",
    "check_target": "emstat.cli.options",
    "family_options": "emstat.cli.options",
}

if TYPE_CHECKING:
    app: typer.Typer


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'emstat.cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def main() -> None:
    """Entry point of the ``emstat`` script; the process is to end after it (its heap is
    frozen: :func:`freeze_heap_for_exit`)."""
    from emstat.cli._app import app

    try:
        app(prog_name="emstat")
    finally:
        freeze_heap_for_exit()


def freeze_heap_for_exit() -> None:
    """Spare a process about to end the collector's passes over every object it holds
    (what it holds now is never collected: call it only on the way out).

    At exit the interpreter collects garbage while it clears the modules; once
    numba's compiled kernels are loaded that is half a second of walking
    objects that die with the process anyway.  Frozen objects are skipped
    (``gc.freeze``); files are closed by their owners before this, and the
    exit handlers (``atexit``) still run.
    """
    import gc

    gc.freeze()
