"""One rank's uncaught exception ends the whole job: print its traceback, then MPI_Abort.

Without this, a rank that dies leaves the others blocked in their next collective until someone
kills the job by hand. The hook prints first (Abort kills the process before Python could) and
flushes, so the failing rank's traceback reaches the terminal; mpiexec then ends every rank.
"""
from __future__ import annotations

import sys
import time
import traceback
from types import TracebackType

from . import process_group as _pg


def _abort_hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    prev = _pg._state["prev_hook"] or sys.__excepthook__
    comm = _pg._state["comm"]
    rank = comm.Get_rank() if comm is not None else "?"
    try:
        header = f"[tinygrad5.distributed] rank {rank} raised an uncaught exception; aborting every rank\n"
        if prev is sys.__excepthook__:
            # One write of the whole report: mpiexec forwards it in one piece before the abort.
            sys.stderr.write(header + "".join(traceback.format_exception(exc_type, exc, tb)))
        else:
            sys.stderr.write(header)
            prev(exc_type, exc, tb)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a closed stream must not stop the abort
                pass
        if _pg._state["MPI"] is not None:
            # mpiexec's output forwarding lags the process: without a pause, Abort cut the report short
            time.sleep(0.5)
            _pg._state["MPI"].COMM_WORLD.Abort(1)


def install_abort_hook() -> None:
    """Make an uncaught exception abort every rank (keeps the previous hook to print with)."""
    if sys.excepthook is not _abort_hook:
        _pg._state["prev_hook"] = sys.excepthook
        sys.excepthook = _abort_hook


def remove_abort_hook() -> None:
    """Put back the excepthook that install_abort_hook replaced."""
    if sys.excepthook is _abort_hook:
        sys.excepthook = _pg._state["prev_hook"] or sys.__excepthook__
    _pg._state["prev_hook"] = None
