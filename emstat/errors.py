"""The exceptions and warnings emstat raises."""

from __future__ import annotations

__all__ = [
    "ConvergenceWarning",
    "DegenerateFitError",
    "EmstatError",
    "InputError",
    "OptionalDependencyError",
    "RError",
    "StdErrorWarning",
]


class EmstatError(Exception):
    """Base class of every error emstat raises on purpose."""


class InputError(EmstatError, ValueError):
    """The data or an argument is unusable; the message names what and where."""


class DegenerateFitError(EmstatError, ArithmeticError):
    """A fit became singular: a component collapsed or a variance reached zero."""


class OptionalDependencyError(EmstatError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class RError(EmstatError, RuntimeError):
    """R reported an error during a cross-check; the message is R's."""


class StdErrorWarning(UserWarning):
    """Some standard errors are NaN (not identified), or bootstrap replicates were dropped."""


class ConvergenceWarning(UserWarning):
    """EM hit its iteration cap, or the log-likelihood decreased beyond rounding."""
