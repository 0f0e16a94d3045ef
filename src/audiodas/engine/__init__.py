"""The processing engine: consumers that claim recordings from the WorkQueue, slots that cap
heavy work, and a pipeline that runs each recording's three branches in parallel."""

from audiodas.engine.engine import Engine
from audiodas.engine.pipeline import Pipeline
from audiodas.slots import Slots

__all__ = ["Engine", "Pipeline", "Slots"]
