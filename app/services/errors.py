"""Domain exceptions: plain classes the HTTP edge maps to status codes."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error a use case reports to its caller; the message is for people."""

    status = 400

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class NotFound(ServiceError):
    """The object does not exist or the actor may not know it exists."""

    status = 404


class NotAllowed(ServiceError):
    """The actor has no right to do this."""

    status = 403


class Conflict(ServiceError):
    """The object changed under the actor (completed already, claimed by someone else)."""

    status = 409


class ConcurrentUpdate(Conflict):
    """Another transaction changed the same rows first; the use case may be run again."""


class ValidationFailed(ServiceError):
    """The submitted data is invalid; errors name the fields."""

    status = 422


class AuthenticationFailed(ServiceError):
    """Wrong credentials, or a missing, expired, revoked or forged token."""

    status = 401


class DirectoryUnavailable(AuthenticationFailed):
    """The directory (LDAP) a login needs does not answer; local accounts are unaffected."""

    status = 503
