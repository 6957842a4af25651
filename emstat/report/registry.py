"""Which report a result gets: a registry keyed by the result's type.

Each report module registers the result types it documents with
:func:`register_report`; :func:`emstat.report.report` looks the result up
here (through its type's method resolution order, most specific first), so a
new kind of result needs a new module, never an edit of the dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emstat.report.document import Document

__all__ = ["Builder", "ReportEntry", "find_report", "register_report"]

Builder = Callable[..., Document]


def _itself(result: Any) -> tuple[Any, ...]:
    return (result,)


def _always(result: Any) -> bool:
    return True


@dataclass(frozen=True)
class ReportEntry:
    """A registered report: its builder, what it calls the result, and when it applies.

    Attributes
    ----------
    builder
        Makes the :class:`~emstat.report.document.Document`; its positional
        parameters take :attr:`arguments` of the result, its keyword
        parameters are the report's options.
    label
        What the result is, as error messages name it ("a mixture fit").
    when
        True for the results of the type this entry serves (default: all).
    arguments
        The builder's positional arguments made from the result (default:
        the result itself).
    """

    builder: Builder
    label: str
    when: Callable[[Any], bool] = _always
    arguments: Callable[[Any], tuple[Any, ...]] = _itself


_REGISTRY: dict[type, list[ReportEntry]] = {}


def register_report(
    kind: type,
    builder: Builder,
    label: str,
    *,
    when: Callable[[Any], bool] | None = None,
    arguments: Callable[[Any], tuple[Any, ...]] | None = None,
) -> None:
    """Register ``builder`` as the report of results of type ``kind``.

    Entries with a ``when`` test are tried before the catch-all entry of the
    same type, the latest registered first, so a module can claim some
    results of a type another module serves (a selection of a component
    family beside a Gaussian selection).
    """
    entry = ReportEntry(builder, label, when or _always, arguments or _itself)
    entries = _REGISTRY.setdefault(kind, [])
    entries.insert(0 if when is not None else len(entries), entry)


def find_report(result: Any) -> tuple[Builder, tuple[Any, ...], str] | None:
    """The builder for ``result``, its positional arguments and its label; None if none."""
    for kind in type(result).__mro__:
        for entry in _REGISTRY.get(kind, ()):
            if entry.when(result):
                return entry.builder, entry.arguments(result), entry.label
    return None
