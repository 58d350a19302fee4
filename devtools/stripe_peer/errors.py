"""Errors in Stripe's shape: `{"error": {"type", "code", "message", "param", ...}}`.

localstripe's UserError always says `invalid_request_error`, even for a card decline; this one
says what Stripe says. It subclasses UserError so localstripe's own error middleware renders it.
"""

from __future__ import annotations

from typing import Any

from localstripe.errors import UserError


class StripeError(UserError):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str = "",
        param: str = "",
        **fields: Any,
    ):
        Exception.__init__(self, message)
        self.code = status  # UserError's name for the HTTP status
        error: dict[str, Any] = {"type": type, "message": message}
        if code:
            error["code"] = code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            error["param"] = param
        error.update(fields)
        self.body = {"error": error}


def invalid(message: str, *, code: str = "", param: str = "", status: int = 400) -> StripeError:
    return StripeError(status, message, code=code, param=param)


def no_such(kind: str, object_id: str, *, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)
