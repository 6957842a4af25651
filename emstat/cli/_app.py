"""The typer app, built from :data:`emstat.cli.COMMANDS`."""

from __future__ import annotations

import importlib
from typing import Any

import typer

from emstat.cli import COMMANDS
from emstat.cli.errors import friendly_errors

__all__ = ["app", "build_app"]


def _load(target: str) -> Any:
    """``"package.module:name"`` -> the object."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def build_app(commands: dict[str, str]) -> typer.Typer:
    """The ``emstat`` app: a command per function, a group per ``typer.Typer``."""
    root = typer.Typer(
        name="emstat",
        help="Statistical models fitted by the EM algorithm.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
    )
    groups: dict[str, typer.Typer] = {}
    for name, target in commands.items():
        group_name, _, command = name.rpartition(" ")
        item = _load(target)
        if isinstance(item, typer.Typer):
            groups[name] = item
            root.add_typer(item, name=name)
        elif group_name:
            if group_name not in groups:
                raise ValueError(f"command {name!r}: no group {group_name!r} listed before it")
            groups[group_name].command(command)(friendly_errors(item))
        else:
            root.command(command)(friendly_errors(item))
    return root


app = build_app(COMMANDS)
