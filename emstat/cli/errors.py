"""The one error wrapper of the command line: emstat's errors as one line, no traceback.

Every command is wrapped when it is registered (see :mod:`emstat.cli`); a
command that needs other exit codes or warnings wraps itself with its own
:func:`error_wrapper` (the cross-checks do), and is then not wrapped again.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import wraps
from typing import Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from emstat.errors import ConvergenceWarning, EmstatError, OptionalDependencyError

__all__ = ["EXIT_ERROR", "err_console", "error_wrapper", "friendly_errors"]

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ERROR = 2

err_console = Console(stderr=True)

# Set on a wrapped command, so that registering it does not wrap it twice.
_WRAPPED = "__emstat_errors__"


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """A warning as one line on stderr, without the source path Python would print."""
    err_console.print(
        Text("warning: ", style="bold yellow") + Text(str(message)), highlight=False, soft_wrap=True
    )


def _print_error(exc: EmstatError) -> None:
    # No blank line after a message that quotes a library's (pandas ends some with "\n").
    message = Text("error: ", style="bold red") + Text(str(exc).strip())
    err_console.print(message, highlight=False, soft_wrap=True)


def error_wrapper(
    *, missing_exit: int = EXIT_ERROR, convergence_warnings: bool = True
) -> Callable[[F], F]:
    """A decorator that shows emstat's errors as one line on stderr and exits non-zero.

    Parameters
    ----------
    missing_exit : int
        Exit code of an :class:`~emstat.errors.OptionalDependencyError` (a
        missing extra, R or R package); every other emstat error exits 2.
    convergence_warnings : bool
        Show each :class:`~emstat.errors.ConvergenceWarning` as one line
        (True), or not at all.
    """

    def decorate(func: F) -> F:
        if getattr(func, _WRAPPED, False):
            return func

        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                with warnings.catch_warnings():
                    action: Literal["default", "ignore"] = (
                        "default" if convergence_warnings else "ignore"
                    )
                    warnings.simplefilter(action, ConvergenceWarning)
                    warnings.showwarning = _show_warning
                    return func(*args, **kwargs)
            except OptionalDependencyError as exc:
                _print_error(exc)
                raise typer.Exit(missing_exit) from None
            except EmstatError as exc:
                _print_error(exc)
                raise typer.Exit(EXIT_ERROR) from None

        setattr(wrapper, _WRAPPED, True)
        return wrapper  # type: ignore[return-value]

    return decorate


def friendly_errors(func: F) -> F:
    """The wrapper of every command: errors exit 2, convergence warnings shown as one line."""
    return error_wrapper()(func)
