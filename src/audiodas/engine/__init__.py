"""The processing engine: a bounded channel of recording ids, slots that cap heavy work, and a
pipeline that runs each recording's three branches in parallel."""

from audiodas.engine.channel import Channel, MemoryChannel
from audiodas.engine.engine import Engine
from audiodas.engine.pipeline import Pipeline
from audiodas.engine.slots import Slots

__all__ = ["Channel", "Engine", "MemoryChannel", "Pipeline", "Slots"]
