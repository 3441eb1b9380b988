"""The one exception tree of tugboat, and its Kubernetes `Status` shape.

    TugError
    ├── BadRequestError      400  malformed request or document
    ├── UnauthorizedError    401  missing or wrong bearer token
    ├── NotFoundError        404  no such object or resource
    ├── MethodNotAllowedError 405 a verb a path does not take
    ├── AlreadyExistsError   409  create of a name that exists
    ├── ConflictError        409  stale resourceVersion
    ├── GoneError            410  watch from a compacted resourceVersion
    ├── TooLargeError        413  a request body over the limit
    ├── InvalidError         422  one or more field errors (at most MAX_CAUSES listed)
    └── UnavailableError     503  a dependency (Ray, the server) is not reachable
"""

from __future__ import annotations

import re
from typing import Any

# "spec.containers[0].image: required" -> field and message, as Kubernetes' causes carry them
_FIELD_RE = re.compile(r"([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z0-9_-]+|\[[^\]]*\])*): (.+)", re.DOTALL)
# 'Deployment "web" is invalid: ...' -> the kind and name kubectl names ("The Deployment "web" is invalid")
_SUBJECT_RE = re.compile(r'([A-Za-z]+) "([^"]*)" is invalid')
MAX_CAUSES = 100  # problems listed in one answer: its size follows this, not the input


class TugError(Exception):
    """Base of every error tugboat raises on purpose; `str()` is the one-line message."""

    code = 500
    reason = "InternalError"

    def __init__(self, message: str, *, details: list[str] | None = None, more: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details or [])
        self.more = more  # problems found but not in `details`

    def to_status(self) -> dict[str, Any]:
        """The Kubernetes `Status` object an API error answers with."""
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            shown = self.details[:MAX_CAUSES]
            hidden = len(self.details) - len(shown) + self.more
            if hidden:
                shown.append(f"... and {hidden} more problem(s) not shown")
            status["details"] = {"causes": [_cause(d) for d in shown]}
            subject = _SUBJECT_RE.match(self.message)
            if subject:
                status["details"].update(kind=subject[1], name=subject[2])
        return status


def _cause(problem: str) -> dict[str, str]:
    """One problem as a StatusCause: the field path apart when the problem starts with one."""
    found = _FIELD_RE.fullmatch(problem)
    if found is None:
        return {"message": problem}
    return {"reason": "FieldValueInvalid", "message": found[2], "field": found[1]}


class BadRequestError(TugError):
    code = 400
    reason = "BadRequest"


class UnauthorizedError(TugError):
    code = 401
    reason = "Unauthorized"


class ForbiddenError(TugError):
    code = 403
    reason = "Forbidden"


class NotFoundError(TugError):
    code = 404
    reason = "NotFound"


class MethodNotAllowedError(TugError):
    code = 405
    reason = "MethodNotAllowed"


class AlreadyExistsError(TugError):
    code = 409
    reason = "AlreadyExists"


class ConflictError(TugError):
    code = 409
    reason = "Conflict"


class GoneError(TugError):
    code = 410
    reason = "Expired"


class TooLargeError(TugError):
    code = 413
    reason = "RequestEntityTooLarge"


class UnsupportedMediaError(TugError):
    code = 415
    reason = "UnsupportedMediaType"


class InvalidError(TugError):
    """Field errors; `details` holds one line per problem, each naming its field path."""

    code = 422
    reason = "Invalid"

    def __init__(self, message: str, *, details: list[str] | None = None, more: int = 0) -> None:
        super().__init__(message, details=details, more=more)


class UnavailableError(TugError):
    code = 503
    reason = "ServiceUnavailable"


_BY_REASON: dict[str, type[TugError]] = {
    cls.reason: cls
    for cls in (
        BadRequestError,
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        MethodNotAllowedError,
        AlreadyExistsError,
        ConflictError,
        GoneError,
        TooLargeError,
        UnsupportedMediaError,
        InvalidError,
        UnavailableError,
    )
}


def _problem(cause: dict[str, Any]) -> str:
    message = str(cause.get("message", ""))
    return f"{cause['field']}: {message}" if cause.get("field") else message


def from_status(status: dict[str, Any], *, http_code: int) -> TugError:
    """Rebuild the error a server sent as a `Status` object (the client side of `to_status`)."""
    cls = _BY_REASON.get(str(status.get("reason", "")), TugError)
    causes = (status.get("details") or {}).get("causes") or []
    err = cls(str(status.get("message") or f"HTTP {http_code}"),
              details=[_problem(c) for c in causes if isinstance(c, dict)])
    if cls is TugError:
        err.code = http_code
    return err
