"""Parsing what the command line is given: numbers of components, lists, families.

Plain functions with no command-line toolkit, shared by every command.
"""

from __future__ import annotations

from typing import Any

from emstat.errors import InputError

__all__ = ["number_or_column", "parse_family", "parse_ks", "parse_list"]


def parse_ks(text: str) -> list[int]:
    """``"3"`` -> [3]; ``"1:9"`` -> 1..9; ``"1,2,4"`` -> [1, 2, 4]."""
    try:
        if ":" in text:
            lo, hi = (int(part) for part in text.split(":"))
            ks = list(range(lo, hi + 1))
        else:
            ks = [int(part) for part in text.split(",")]
    except ValueError:
        raise InputError(f"--k takes 3, 1:9 or 1,2,4; got {text!r}") from None
    if not ks or min(ks) < 1:
        raise InputError(f"--k must give numbers of components >= 1; got {text!r}")
    return ks


def parse_list(text: str | None, option: str | None = None, what: str = "name") -> list[str] | None:
    """``"a, b"`` -> ["a", "b"]; with ``option``, a list that names nothing is refused."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if option is not None and not names:
        raise InputError(f"no {what} named in {option}; got {text!r}")
    return names


def parse_family(text: str) -> Any:
    """``"poisson"`` -> "poisson"; ``"age=normal,n=poisson"`` -> columns mapped to families."""
    if "=" not in text:
        return text.strip()
    family: dict[str, str] = {}
    for part in text.split(","):
        column, _, name = part.partition("=")
        if not column.strip() or not name.strip():
            raise InputError(f"--family takes column=family pairs joined by ','; got {part!r}")
        if column.strip() in family:
            raise InputError(f"--family names column {column.strip()!r} twice")
        family[column.strip()] = name.strip()
    return family


def number_or_column(text: str | None) -> str | float | None:
    """``--trials 10`` is a number; ``--trials n`` names a column."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() else value
