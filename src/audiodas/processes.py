"""Helpers for the processes that `audiodas serve` and the engine start."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import sys

log = logging.getLogger("audiodas.processes")

_PR_SET_PDEATHSIG = 1
# Set by `audiodas serve` for the processes it starts.
SUPERVISOR_PID = "AUDIODAS_SUPERVISOR_PID"


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies, so that killing `audiodas serve`
    (even with SIGKILL) never leaves an engine, an API worker or a model process behind."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def die_with_supervisor() -> None:
    """die_with_parent, in a process that `audiodas serve` started (elsewhere, nothing)."""
    supervisor = int(os.environ.get(SUPERVISOR_PID, "0"))
    if supervisor and supervisor == os.getppid():
        die_with_parent(supervisor)


def keep_startup_objects() -> None:
    """Take what starting made (modules, routes, the runtime: ~150,000 objects in an HTTP process)
    out of the cyclic collector's sight; it lives as long as the process. Otherwise each full
    collection walks all of it, ~130 ms during which the process answers nothing: under load,
    about once a minute. Objects made later are collected as usual."""
    gc.collect()
    gc.freeze()
    log.info("kept %d startup objects out of garbage collection", gc.get_freeze_count())
