"""``python -m emstat.simulation --mixture ... --out-dir ...``: ``emstat simulate`` on its own."""

from __future__ import annotations

import typer

from emstat.cli import friendly_errors
from emstat.simulation.cli import simulate


def main() -> None:
    """Run :func:`emstat.simulation.cli.simulate` as a one-command Typer app."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(friendly_errors(simulate))
    app(prog_name="python -m emstat.simulation")


if __name__ == "__main__":
    main()
