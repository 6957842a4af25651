"""Progress on stderr, drawn by rich: a bar when the total is known, else a spinner.

Silent when ``show`` is False (``--quiet``) or stderr is not a terminal
(a pipe, a file, a test), so scripts and logs get no control characters.
The simulation runner and the long commands take their bars from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["progress_bar", "shows_progress", "spinner"]


class _RateColumn(ProgressColumn):
    """Units done per second."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        rate = f"  ?  {self.unit}/s" if speed is None else f"{speed:6.1f} {self.unit}/s"
        return Text(rate, style="cyan")


def shows_progress(show: bool) -> Console | None:
    """The stderr console to draw on, or None: not ``show``, or stderr is no terminal."""
    console = Console(stderr=True)
    return console if show and console.is_terminal else None


@contextmanager
def progress_bar(
    total: int, done: int = 0, *, show: bool, description: str = "replicates", unit: str = "rep"
) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(count)``; draw a bar of ``done`` out of ``total`` when shown."""
    console = shows_progress(show)
    if console is None:
        yield lambda count: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(unit),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=total, completed=done)
        yield lambda count: bar.advance(task, count)


@contextmanager
def spinner(description: str, *, show: bool) -> Iterator[None]:
    """A spinner with the time elapsed while work of unknown length runs; gone at the end."""
    console = shows_progress(show)
    if console is None:
        yield
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        bar.add_task(description, total=None)
        yield
