"""Bearer-token authentication for the API, with the sign-in page's guard against guessing.

`Authorization: Bearer wpt_...` names the user every engine call acts as; the engine and the
inbox's visibility rules then decide, exactly as for the web pages. A valid token is always
accepted; wrong tokens are counted per client address by `engine.people.throttle`, and past the
free ones that address waits (growing delays, 429) before its next wrong token is even looked at
as a 401: a guesser slows down only itself, never the valid tokens sent from the same address.
"""

from __future__ import annotations

from flask import current_app, g, request

from engine.people import throttle
from engine.people.api_tokens import InvalidToken, needs_touch, touch
from engine.people.api_tokens import authenticate as authenticate_token

from ..context import db, engine
from .problems import ApiError


def authenticate() -> None:
    """Put the token's user on `g.api_user`.

    :raise 401: no bearer token, or an unknown, revoked or expired one.
    :raise 429: a wrong token from an address that sent too many wrong ones lately.
    """
    scheme, _, text = request.headers.get("Authorization", "").partition(" ")
    text = text.strip()
    if scheme.lower() != "bearer" or not text:
        raise ApiError(401, "unauthenticated", "send an API token: Authorization: Bearer <token>")
    now, policy = engine().clock.now(), current_app.config["API_AUTH_POLICY"]
    key = throttle.token_key(request.remote_addr)
    with db().reading() as s:
        try:
            token, user = authenticate_token(s, text, now)
        except InvalidToken as exc:
            error: InvalidToken | None = exc
            wait = throttle.wait(s, key, now, policy)
        else:
            error = None
            _ = user.roles  # loaded while the session is open
            g.api_user, g.api_token_id = user, token.id
            stale = needs_touch(token, now)
    if error is not None:
        if wait:
            raise ApiError(
                429,
                "too_many_requests",
                "too many invalid tokens from this address",
                headers={"Retry-After": str(max(1, int(wait.total_seconds())))},
            )
        with db().transaction() as s:
            throttle.record_failure(s, [key], now, policy.window)
        raise ApiError(401, error.kind, str(error))
    if stale:
        with db().transaction() as s:
            touch(s, g.api_token_id, now)


def current_user():
    """The authenticated user of this request."""
    return g.api_user
