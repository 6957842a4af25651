"""``python -m emstat.simulation --mixture ... --out-dir ...``: ``emstat simulate`` on its own."""

from __future__ import annotations

from emstat.cli.simulate import standalone

if __name__ == "__main__":
    standalone()
