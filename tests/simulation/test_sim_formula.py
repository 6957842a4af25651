"""The 1-D mixture formula: N(mean, variance) terms, weights, and errors with a caret."""

from __future__ import annotations

import pytest

from emstat.errors import InputError
from emstat.simulation.design import mixture_from_formula
from emstat.simulation.formula import parse_formula


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("0.5*N(-0.8,1) + 0.5*N(0.8,1)", [(0.5, -0.8, 1.0), (0.5, 0.8, 1.0)]),
        ("0.3*N(0,1)+0.7*N(2,0.25)", [(0.3, 0.0, 1.0), (0.7, 2.0, 0.25)]),
        ("  0.25 * N( 1e1 , 2.5E-1 ) + .75*N(-.5, 4)  ", [(0.25, 10.0, 0.25), (0.75, -0.5, 4.0)]),
        ("N(0,1) + N(3,2) + N(6,3)", [(1 / 3, 0.0, 1.0), (1 / 3, 3.0, 2.0), (1 / 3, 6.0, 3.0)]),
        ("1*N(+2,9)", [(1.0, 2.0, 9.0)]),
    ],
)
def test_parses_terms(formula: str, expected: list[tuple[float, float, float]]) -> None:
    terms = parse_formula(formula)
    got = [value for t in terms for value in (t.weight, t.mean, t.variance)]
    assert got == pytest.approx([value for term in expected for value in term])


def test_second_number_is_the_variance() -> None:
    mixture = mixture_from_formula("0.5*N(0,4) + 0.5*N(1,9)")
    assert mixture.covariances[:, 0, 0].tolist() == [4.0, 9.0]  # not sd**2 = 16, 81


def _caret_column(message: str) -> int:
    _, caret_line = message.splitlines()[-2:]
    assert caret_line.strip() == "^"
    return caret_line.index("^") - 2  # both lines are indented by two spaces


@pytest.mark.parametrize(
    ("formula", "position", "words"),
    [
        ("0.5*N(-0.8,1) + 0.5*X(0.8,1)", 20, "expected 'N('"),
        ("0.5*N(-0.8 1) + 0.5*N(0.8,1)", 11, "expected ','"),
        ("0.5*N(-0.8,1) + 0.5*N(0.8,1", 27, "expected ')'"),
        ("0.5*N(-0.8,1) 0.5*N(0.8,1)", 14, "expected '+' or the end"),
        ("0.5*N(abc,1)", 6, "expected a number (the mean)"),
        ("0.5 N(0,1)", 4, "expected '*'"),
        ("0.5*N(0,-1) + 0.5*N(1,1)", 8, "variance -1 must be positive"),
        ("0.5*N(0,0) + 0.5*N(1,1)", 8, "variance 0 must be positive"),
        ("0*N(0,1) + 1*N(1,1)", 0, "weight 0 must be positive"),
        ("0.5*N(0,1) +", 12, "expected a number (a weight or a distribution such as N()"),
    ],
)
def test_malformed_formula_points_at_the_character(formula: str, position: int, words: str) -> None:
    with pytest.raises(InputError) as info:
        parse_formula(formula)
    message = str(info.value)
    assert words in message
    assert message.splitlines()[-2] == "  " + formula
    assert _caret_column(message) == position
    assert "variance" in message.splitlines()[0]  # the help says what N's numbers mean


@pytest.mark.parametrize(
    ("formula", "words"),
    [
        ("0.5*N(0,1) + 0.4*N(1,1)", "sum to 0.9, not 1"),
        ("0.5*N(0,1) + N(1,1)", "every term or for none"),
        ("", "empty"),
    ],
)
def test_bad_weights_and_empty(formula: str, words: str) -> None:
    with pytest.raises(InputError, match="mixture formula") as info:
        parse_formula(formula)
    assert words in str(info.value)
    assert len(str(info.value).splitlines()) == 1
