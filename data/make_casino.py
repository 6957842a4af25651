"""Write casino.csv: the "occasionally dishonest casino" of Durbin et al. (1998), simulated.

Run from the repository's root: ``python data/make_casino.py``.  The rolls are
simulated (no published roll sequence is bundled): 3 sessions of 300 rolls,
NumPy's PCG64 generator seeded with 20260101, each session starting with the
fair die.  The fair die shows each face with probability 1/6; the loaded die
shows 6 with probability 1/2 and each other face with 1/10.  The casino
switches from the fair to the loaded die with probability 0.05 after a roll,
and back with probability 0.1 (Durbin, Eddy, Krogh & Mitchison, *Biological
Sequence Analysis*, Cambridge University Press, 1998, section 3.2).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SEED = 20260101
SESSIONS = 3
ROLLS = 300
TRANSITIONS = np.array([[0.95, 0.05], [0.10, 0.90]])
FACES = np.array([[1 / 6] * 6, [0.1] * 5 + [0.5]])
DIES = ("fair", "loaded")


def casino_rows(seed: int = SEED) -> list[tuple[int, int, int, str]]:
    """(session, roll, face, die) for every roll, in order."""
    rng = np.random.default_rng(seed)
    rows = []
    for session in range(1, SESSIONS + 1):
        state = 0
        for roll in range(1, ROLLS + 1):
            if roll > 1:
                state = int(rng.choice(2, p=TRANSITIONS[state]))
            face = int(rng.choice(6, p=FACES[state])) + 1
            rows.append((session, roll, face, DIES[state]))
    return rows


def casino_csv(seed: int = SEED) -> str:
    """The text of casino.csv."""
    lines = ["session,roll,face,die"]
    lines += [f"{s},{r},{f},{d}" for s, r, f, d in casino_rows(seed)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("casino.csv")
    target.write_text(casino_csv())
