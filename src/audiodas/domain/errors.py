"""Errors a user can cause (`Rejected`: each with a stable machine-readable code and a readable
detail; the API maps codes to HTTP statuses, api/errors.py) and failures of the machine
(`Unavailable`: a database out of reach, a full disk)."""

from collections.abc import Iterator


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
    LEGAL_HOLD = "legal_hold"  # held: never deleted while the hold stands
    NOT_HELD = "not_held"
    ORIGINAL_REMOVED = "original_removed"  # past its own retention; the archive copy is kept
    VARIANT_NOT_READY = "variant_not_ready"
    BAD_CURSOR = "invalid_cursor"
    INVALID_FIELD = "invalid_field"
    INVALID_REQUEST = "invalid_request"  # a parameter or body of the wrong shape
    NOT_RETRYABLE = "not_retryable"
    # Access: no key, a wrong or expired or revoked key, a scope too small, a stale link.
    UNAUTHENTICATED = "unauthenticated"
    INVALID_KEY = "invalid_key"
    FORBIDDEN = "forbidden"
    LINK_EXPIRED = "link_expired"
    LINK_INVALID = "link_invalid"


class Unavailable(Exception):
    """The machine's failure, not the request's: worth trying again later. Adapters raise it at
    their edge in place of their drivers' errors, so no other layer knows a driver."""


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached or is not answering (not: the query is wrong)."""


class StoreUnavailable(Unavailable):
    """The object store holding the recordings' files cannot be reached."""


class StorageFull(Unavailable):
    """No space left for a file or for the database's writes."""


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what caused it, and the members of exception groups (task groups)."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(c for c in (current.__cause__, current.__context__) if c is not None)


def unavailable_in(exc: BaseException) -> Unavailable | None:
    """The machine's failure `exc` is or carries: itself, a cause, or a member of a task
    group's exception group."""
    return next((c for c in causes(exc) if isinstance(c, Unavailable)), None)
