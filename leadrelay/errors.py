"""Domain errors. Domain and store code raise these; the gRPC bootstrap turns them into status
codes in one place (leadrelay.server), with the message a person can act on."""

from __future__ import annotations


class LeadRelayError(Exception):
    """Base of the errors a caller can act on."""


class InvalidArgument(LeadRelayError):
    """A request field is wrong. The message names the field (and index or row)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.description = message


class NotFound(LeadRelayError):
    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} not found")
        self.kind = kind
        self.ident = ident


class PermissionDenied(LeadRelayError):
    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} belongs to another account")
        self.kind = kind
        self.ident = ident


class FailedPrecondition(LeadRelayError):
    """The request is well-formed but the system is not in a state to do it."""


class AlreadyExists(LeadRelayError):
    pass


class Unavailable(LeadRelayError):
    """A dependency (another service, a platform) cannot be reached now; the call may be retried."""
