"""The 1-D mixture formula: ``"0.5*N(-0.8,1) + 0.5*N(0.8,1)"``.

``N(mean, variance)`` is the normal distribution in the N(μ, σ²) notation:
the second number is the **variance**, not the standard deviation (R's
``rnorm`` takes the sd; this does not).  ``Pois(rate)`` is a Poisson count
and ``Bin(trials, prob)`` a binomial one (every term the same number of
trials).  Each term is ``weight*Distribution(...)``, all terms of one
distribution; the weights must sum to 1.  Leave out every weight for equal
weights.  Errors show the formula with a caret under the offending character.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from emstat.errors import InputError

__all__ = ["FORMULA_HELP", "FormulaTerm", "parse_formula"]

FORMULA_HELP = (
    "terms 'weight*N(mean, variance)', 'weight*Pois(rate)' or 'weight*Bin(trials, prob)' "
    "joined by '+', e.g. '0.5*N(-0.8,1) + 0.5*N(0.8,1)' or '0.6*Pois(2) + 0.4*Pois(9)'; "
    "N's second number is the variance (N(mu, sigma^2)), not the sd"
)
#: The distributions a formula term may name, and what their numbers are.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "N": ("the mean", "the variance"),
    "Pois": ("the rate",),
    "Bin": ("the number of trials", "the probability"),
}

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WEIGHT_SUM_TOL = 1e-6


@dataclass(frozen=True)
class FormulaTerm:
    """One component: its weight (None when left out), distribution and its numbers."""

    weight: float | None
    distribution: str
    args: tuple[float, ...]

    @property
    def mean(self) -> float:
        """A normal term's mean."""
        return self.args[0]

    @property
    def variance(self) -> float:
        """A normal term's variance."""
        return self.args[1]


def formula_error(formula: str, position: int, message: str) -> InputError:
    """An :class:`InputError` showing ``formula`` with a caret under ``position``."""
    position = max(0, min(position, len(formula)))
    return InputError(
        f"mixture formula: {message} at character {position + 1} "
        f"({FORMULA_HELP})\n  {formula}\n  {' ' * position}^"
    )


class _Scanner:
    """A cursor over the formula that skips blanks and reports where it failed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def fail(self, message: str, position: int | None = None) -> InputError:
        return formula_error(self.text, self.pos if position is None else position, message)

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end"
            raise self.fail(f"expected {char!r}, found {found}")
        self.pos += 1

    def number(self, what: str) -> tuple[float, int]:
        self.skip()
        match = _NUMBER.match(self.text, self.pos)
        if match is None:
            found = repr(self.peek()) if self.peek() else "the end"
            raise self.fail(f"expected a number ({what}), found {found}")
        start = self.pos
        self.pos = match.end()
        value = float(match.group())
        if not math.isfinite(value):
            noun = what if what.startswith("the ") else "the weight"
            raise self.fail(f"{noun} must be finite", start)
        return value, start


def _distribution(scan: _Scanner) -> str | None:
    """The distribution name at the cursor (longest first: Pois before N), or None."""
    scan.skip()
    for name in sorted(DISTRIBUTIONS, key=len, reverse=True):
        if scan.text.startswith(name, scan.pos):
            return name
    return None


def _check_arg(scan: _Scanner, name: str, index: int, value: float, start: int) -> None:
    what = DISTRIBUTIONS[name][index]
    if name == "N" and index == 1 and value <= 0:
        raise scan.fail(f"variance {value:g} must be positive", start)
    if name == "Pois" and value <= 0:
        raise scan.fail(f"rate {value:g} must be positive", start)
    if name == "Bin" and index == 0 and (value < 1 or value != int(value)):
        raise scan.fail(f"{what} {value:g} must be a whole number >= 1", start)
    if name == "Bin" and index == 1 and not 0 < value < 1:
        raise scan.fail(f"probability {value:g} must be between 0 and 1", start)


def _term(scan: _Scanner) -> FormulaTerm:
    weight: float | None = None
    if _distribution(scan) is None:
        weight, start = scan.number("a weight or a distribution such as N(")
        if weight <= 0:
            raise scan.fail(f"weight {weight:g} must be positive", start)
        scan.expect("*")
    name = _distribution(scan)
    if name is None:
        found = repr(scan.peek()) if scan.peek() else "the end"
        raise scan.fail(f"expected 'N(', 'Pois(' or 'Bin(', found {found}")
    scan.pos += len(name)
    scan.expect("(")
    args = []
    for index, what in enumerate(DISTRIBUTIONS[name]):
        if index:
            scan.expect(",")
        value, start = scan.number(what)
        _check_arg(scan, name, index, value, start)
        args.append(value)
    scan.expect(")")
    return FormulaTerm(weight, name, tuple(args))


def parse_formula(formula: str) -> list[FormulaTerm]:
    """Parse a 1-D mixture formula into its terms, with weights filled in.

    Parameters
    ----------
    formula
        ``"w1*N(mean1, var1) + w2*N(mean2, var2) + ..."``; the second number
        of ``N`` is the variance.  Leave out all weights for equal ones.

    Returns
    -------
    list of FormulaTerm
        One per component, every weight set.

    Raises
    ------
    InputError
        For a malformed formula (with a caret under the offending
        character), a non-positive variance or weight, weights that do not
        sum to 1, or weights given for some terms only.

    Examples
    --------
    >>> [(t.weight, t.mean, t.variance) for t in parse_formula("0.3*N(0,1) + 0.7*N(2, 0.5)")]
    [(0.3, 0.0, 1.0), (0.7, 2.0, 0.5)]
    >>> [t.weight for t in parse_formula("N(0,1) + N(3,1)")]
    [0.5, 0.5]
    >>> [(t.distribution, t.args) for t in parse_formula("0.6*Pois(2) + 0.4*Pois(9)")]
    [('Pois', (2.0,)), ('Pois', (9.0,))]
    """
    if not isinstance(formula, str) or not formula.strip():
        raise InputError(f"mixture formula is empty ({FORMULA_HELP})")
    scan = _Scanner(formula)
    terms = [_term(scan)]
    while scan.peek() == "+":
        scan.pos += 1
        terms.append(_term(scan))
    if scan.peek():
        raise scan.fail(f"expected '+' or the end, found {scan.peek()!r}")
    kinds = {t.distribution for t in terms}
    if len(kinds) > 1:
        raise InputError(
            f"mixture formula {formula!r}: every term must be of one distribution, "
            f"got {', '.join(sorted(kinds))}"
        )
    if kinds == {"Bin"} and len({t.args[0] for t in terms}) > 1:
        raise InputError(
            f"mixture formula {formula!r}: every Bin term needs the same number of trials"
        )
    given = [t.weight is not None for t in terms]
    if not all(given):
        if any(given):
            raise InputError(
                f"mixture formula {formula!r}: give a weight for every term or for none "
                "(none means equal weights)"
            )
        return [FormulaTerm(1.0 / len(terms), t.distribution, t.args) for t in terms]
    total = math.fsum(t.weight for t in terms if t.weight is not None)
    if abs(total - 1.0) > _WEIGHT_SUM_TOL:
        raise InputError(f"mixture formula {formula!r}: the weights sum to {total:g}, not 1")
    return terms
