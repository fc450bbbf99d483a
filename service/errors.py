"""The one error hierarchy of the application layer (service/app.py).

Every use case fails with one of these kinds, each with a stable ``code`` a front end can rely on:
the CLI maps them to exit codes (``exit_code``: 2 for a usage error, 1 otherwise), an HTTP service
to statuses (``http_status``). The message is for people; ``details`` carries structured facts
(for example each file's failure of a registration that wrote nothing).

The packages below the application layer keep their own exceptions (MediaError, CatalogError,
WorkflowError, ...) and say which kind they are with a ``kind`` attribute (one of ``KINDS``); the
application layer turns them into these classes at its boundary (``translated``), so no front end
needs to know the lower layers' exception types.
"""

from __future__ import annotations

NOT_FOUND = "not_found"
CONFLICT = "conflict"
INVALID = "invalid_input"
FORBIDDEN = "forbidden"
UNAVAILABLE = "unavailable"
UNAUTHENTICATED = "unauthenticated"
TOO_LARGE = "too_large"
KINDS = (NOT_FOUND, CONFLICT, INVALID, FORBIDDEN, UNAVAILABLE, UNAUTHENTICATED, TOO_LARGE)


class PrescreenError(Exception):
    """A use case that could not be done; ``str(exc)`` says why in words."""

    code = "error"
    http_status = 500
    exit_code = 1

    def __init__(self, message: str, *, details: dict | None = None, usage: bool = False):
        super().__init__(message)
        self.details = dict(details or {})
        if usage:  # a mistake in how the command was given (a setting, an argument): exit 2
            self.exit_code = 2

    def as_dict(self) -> dict:
        """The error as JSON: ``{"error": {"code", "message", ...details}}``."""
        return {"error": {"code": self.code, "message": str(self), **self.details}}


class NotFound(PrescreenError):
    """No work, reference, upload, review or exclusion with that id."""

    code, http_status = NOT_FOUND, 404


class Conflict(PrescreenError):
    """The request clashes with the catalog's state: another owner's work, a review already decided,
    a dispute window closed."""

    code, http_status = CONFLICT, 409


class InvalidInput(PrescreenError):
    """The request itself is wrong: a bad range, a rule that is not valid, a file that cannot be read."""

    code, http_status = INVALID, 422


class Forbidden(PrescreenError):
    """The actor may not do this (only the uploader of record may dispute an upload)."""

    code, http_status = FORBIDDEN, 403


class Unauthenticated(PrescreenError):
    """No key, or a key that is unknown or revoked (the HTTP service: 401)."""

    code, http_status = UNAUTHENTICATED, 401


class TooLarge(PrescreenError):
    """A request body over ``[server] max_body_bytes`` (or, screened while waiting, ``sync_max_bytes``)."""

    code, http_status = TOO_LARGE, 413


class Unavailable(PrescreenError):
    """The catalog, its lock, its index or its audit key cannot be used now; trying again later, or
    an operator's repair, may help."""

    code, http_status = UNAVAILABLE, 503


ERROR_CLASSES: dict[str, type[PrescreenError]] = {
    NOT_FOUND: NotFound, CONFLICT: Conflict, INVALID: InvalidInput, FORBIDDEN: Forbidden, UNAVAILABLE: Unavailable,
    UNAUTHENTICATED: Unauthenticated, TOO_LARGE: TooLarge,
}
