"""``python -m emstat.cli ...``: the ``emstat`` command."""

from emstat.cli import main

if __name__ == "__main__":
    main()
