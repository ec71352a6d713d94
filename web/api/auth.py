"""Bearer-token authentication for the API, with the sign-in page's guard against guessing.

`Authorization: Bearer wpt_...` names the user every engine call acts as; the engine and the
inbox's visibility rules then decide, exactly as for the web pages. Wrong tokens are counted
per client address by `engine.people.throttle`, like failed sign-ins: past the limit the address gets
429 until the window has passed.
"""

from __future__ import annotations

from flask import current_app, g, request

from engine.people import throttle
from engine.people.api_tokens import InvalidToken, needs_touch, touch
from engine.people.api_tokens import authenticate as authenticate_token

from ..context import db, engine
from .problems import ApiError

DEFAULT_MAX_FAILURES = 20


def authenticate() -> None:
    """Put the token's user on `g.api_user`.

    :raise 401: no bearer token, or an unknown, revoked or expired one.
    :raise 429: too many wrong tokens from this address lately.
    """
    scheme, _, text = request.headers.get("Authorization", "").partition(" ")
    text = text.strip()
    if scheme.lower() != "bearer" or not text:
        raise ApiError(401, "unauthenticated", "send an API token: Authorization: Bearer <token>")
    now, window = engine().clock.now(), current_app.config["LOGIN_WINDOW"]
    limits = throttle.token_limits(
        request.remote_addr, current_app.config.get("API_MAX_AUTH_FAILURES", DEFAULT_MAX_FAILURES)
    )
    with db().reading() as s:
        if throttle.too_many(s, limits, now, window):
            raise ApiError(
                429,
                "too_many_requests",
                "too many invalid tokens from this address",
                headers={"Retry-After": str(int(window.total_seconds()))},
            )
        try:
            token, user = authenticate_token(s, text, now)
        except InvalidToken as exc:
            error: InvalidToken | None = exc
        else:
            error = None
            _ = user.roles  # loaded while the session is open
            g.api_user, g.api_token_id = user, token.id
            stale = needs_touch(token, now)
    if error is not None:
        with db().transaction() as s:
            throttle.record_failure(s, limits, now, window)
        raise ApiError(401, error.kind, str(error))
    if stale:
        with db().transaction() as s:
            touch(s, g.api_token_id, now)


def current_user():
    """The authenticated user of this request."""
    return g.api_user
