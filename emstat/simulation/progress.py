"""A rich progress bar of replicates done, their rate and the time left; silent otherwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["progress_bar"]


class _RateColumn(ProgressColumn):
    """Replicates per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("  ?  rep/s" if speed is None else f"{speed:6.1f} rep/s", style="cyan")


@contextmanager
def progress_bar(
    total: int, done: int, *, show: bool, description: str = "replicates"
) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(count)``; draw a bar on stderr only if ``show`` and stderr is a terminal."""
    console = Console(stderr=True)
    if not show or not console.is_terminal:
        yield lambda count: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=total, completed=done)
        yield lambda count: bar.advance(task, count)
