"""Model inference in separate, long-lived processes: one per AI slot, each loading its models
once. A call that outlives its timeout, or a process that dies, is killed and replaced; no
inference can wedge the engine or the API.

    pool.py     InferencePool: the processes of one engine, its AI slots, timeouts, replacement
    child.py    the process side: models loaded once, one request at a time
    service.py  InferenceServer (engine) and InferenceClient (API processes) over a Unix socket
    wire.py     length-prefixed JSON messages

Kept free of numpy imports: the processes that fork FFmpeg or serve HTTP never load native
thread pools.
"""

from audiodas.inference.errors import (
    InferenceBusy,
    InferenceFailed,
    InferenceTimeout,
    InferenceUnavailable,
    ModelError,
)
from audiodas.inference.pool import InferencePool
from audiodas.inference.service import InferenceClient, InferenceServer

__all__ = [
    "InferenceBusy",
    "InferenceClient",
    "InferenceFailed",
    "InferencePool",
    "InferenceServer",
    "InferenceTimeout",
    "InferenceUnavailable",
    "ModelError",
]
