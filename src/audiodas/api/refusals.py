"""Refusal codes only the HTTP edge makes: the transport (bodies, heads, Range), the browser
guard, slowed key guessing, the synchronous inference of the OpenAI-compatible routes, and the
machine's failures as answered. They live with the API; the domain's `Rejected` keeps what a
user can ask of the application. Raised as `Rejected(code, detail)` like any refusal."""

# The transport: a body that is not multipart, stalls, or is too large; a Range header.
MALFORMED_BODY = "malformed_body"
BODY_TIMEOUT = "body_timeout"
BODY_TOO_LARGE = "body_too_large"
BAD_RANGE = "malformed_range"
RANGE_NOT_SATISFIABLE = "range_not_satisfiable"
# The browser guard: a Host the server does not answer to, a write from another origin's page.
HOST_NOT_ALLOWED = "host_not_allowed"
ORIGIN_NOT_ALLOWED = "origin_not_allowed"
# Wrong keys from one address: it waits.
TOO_MANY_ATTEMPTS = "too_many_attempts"
# The machine's failures (domain.errors.Unavailable), answered: worth trying again later.
STORAGE_FULL = "insufficient_storage"
DATABASE_UNAVAILABLE = "database_unavailable"
STORE_UNAVAILABLE = "store_unavailable"
# Synchronous inference (the OpenAI-compatible routes).
INFERENCE_BUSY = "inference_busy"
INFERENCE_TIMEOUT = "inference_timeout"
INFERENCE_FAILED = "inference_failed"
UNPROCESSABLE_AUDIO = "unprocessable_audio"
ENGINE_UNAVAILABLE = "engine_unavailable"
