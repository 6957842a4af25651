"""What a study reports beyond :class:`~emstat.errors.InputError`."""

from __future__ import annotations

from emstat.errors import EmstatError

__all__ = ["StudyFailedError", "StudyInterrupted", "StudyWarning"]


class StudyWarning(UserWarning):
    """Something in an output directory was repaired: a stale lock, a damaged part."""


class StudyFailedError(EmstatError, RuntimeError):
    """Most replicates of a study failed; their rows and the summary are on disk all the same."""


class StudyInterrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGTERM); finished batches are saved."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum
