"""What can go wrong with an inference, as the engine's retry policy and the API see it."""


class InferenceFailed(Exception):
    """The model raised, or its process died."""


class ModelError(InferenceFailed):
    """The model raised on this input; its process answered and serves the next call."""


class InferenceTimeout(InferenceFailed, TimeoutError):
    """The call outlived its timeout; its process was killed and is being replaced."""


class InferenceBusy(Exception):
    """No AI slot became free within the caller's wait."""


class InferenceUnavailable(Exception):
    """No inference service to talk to (the engine process is not running)."""
