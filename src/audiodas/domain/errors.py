"""Errors a user can cause. Each carries a stable machine-readable code and a readable detail;
the API maps codes to HTTP statuses (see audiodas.api.errors)."""


def quoted(value: str, limit: int = 64) -> str:
    """Input shown back in an error: in quotes, at most `limit` characters, control characters
    escaped (a detail is read in logs and terminals, where raw input could forge lines)."""
    shown = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode() for c in value[:limit]
    )
    return f"'{shown}'" + ("…" if len(value) > limit else "")


class Rejected(Exception):
    """A request that cannot be honoured as asked. Nothing stored is changed by it."""

    def __init__(self, code: str, detail: str, retry_after_s: int | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.retry_after_s = retry_after_s  # when worth asking again, if the code says so

    # Codes, one per kind of refusal.
    MISSING_FILE = "missing_file"
    EMPTY_FILE = "empty_file"
    TOO_LARGE = "file_too_large"
    NOT_AUDIO = "unsupported_media_type"
    TOO_LONG = "duration_too_long"
    NOT_FOUND = "not_found"
    UNDER_RETENTION = "under_retention"
    VARIANT_NOT_READY = "variant_not_ready"
    BAD_CURSOR = "invalid_cursor"
    INVALID_FIELD = "invalid_field"
    INVALID_REQUEST = "invalid_request"  # a parameter or body of the wrong shape
    BAD_RANGE = "malformed_range"
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable"
    MALFORMED_BODY = "malformed_body"
    BODY_TIMEOUT = "body_timeout"
    BODY_TOO_LARGE = "body_too_large"
    NOT_RETRYABLE = "not_retryable"
    # Access: no key, a wrong or expired or revoked key, a scope too small, a stale link.
    UNAUTHENTICATED = "unauthenticated"
    INVALID_KEY = "invalid_key"
    FORBIDDEN = "forbidden"
    TOO_MANY_ATTEMPTS = "too_many_attempts"  # wrong keys from one address: it waits
    LINK_EXPIRED = "link_expired"
    LINK_INVALID = "link_invalid"
    # Browser protections: a Host the server does not answer to, a page of another origin.
    HOST_NOT_ALLOWED = "host_not_allowed"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    # The service's own trouble, not the request's: worth trying again later.
    STORAGE_FULL = "insufficient_storage"
    DATABASE_UNAVAILABLE = "database_unavailable"
    # Synchronous inference (the OpenAI-compatible endpoint).
    INFERENCE_BUSY = "inference_busy"
    INFERENCE_TIMEOUT = "inference_timeout"
    INFERENCE_FAILED = "inference_failed"
    UNPROCESSABLE_AUDIO = "unprocessable_audio"
    ENGINE_UNAVAILABLE = "engine_unavailable"
