"""How the API writes: one transaction per request, `Idempotency-Key` replays, `If-Match` preconditions.

A write view hands `perform` a function of the session that calls the engine and returns a
`Result`. `perform` runs it in one transaction; with an `Idempotency-Key`, the key is claimed
as the transaction's first write and the answer stored before the commit (engine/idempotency.py),
so a retry, even a concurrent one, gets the first answer and makes no second change.

ETags are the instance's optimistic version (`"7"`): every action on an instance, including
claim and release, bumps it. `If-Match` is compared with the version loaded in the action's own
transaction; the engine's `UPDATE ... WHERE version = :v` then catches any change after that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Response, current_app, g, request
from sqlalchemy.orm import Session

from engine import idempotency as idem

from ..context import db, engine
from .problems import ApiError


@dataclass
class Result:
    """What a write answers: status, JSON body and extra headers (ETag, Location)."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def etag(version: int) -> str:
    """The strong ETag of an instance (and its tasks) at `version`."""
    return f'"{version}"'


def check_if_match(version: int) -> None:
    """:raise 412: when the request's If-Match names no ETag of `version`."""
    header = request.headers.get("If-Match")
    if header is None:
        return
    tags = [t.strip() for t in header.split(",")]
    if "*" in tags or etag(version) in tags:
        return
    raise ApiError(
        412,
        "precondition_failed",
        "the request changed since you read it (If-Match does not match): read it again",
        {"current_etag": etag(version)},
        {"ETag": etag(version)},
    )


def not_modified(version: int) -> bool:
    """True when If-None-Match already names the current ETag (answer 304)."""
    header = request.headers.get("If-None-Match")
    return header is not None and any(t.strip() in ("*", etag(version)) for t in header.split(","))


def body_fingerprint() -> Any:
    """What identifies the request body for idempotency: a JSON body's value (key order and spacing
    do not matter: `idem.fingerprint` writes it canonically), a multipart body without its
    boundaries, or else the bytes."""
    if request.mimetype == "multipart/form-data":
        files = []
        for name, upload in request.files.items(multi=True):
            files.append([str(name), str(upload.filename or ""), hashlib.sha256(upload.stream.read()).hexdigest()])
            upload.stream.seek(0)
        form = [[str(k), str(v)] for k, v in request.form.items(multi=True)]
        return {"form": sorted(form), "files": sorted(files)}
    if request.is_json:
        parsed = request.get_json(silent=True, cache=True)
        if parsed is not None:
            return {"json": parsed}
    return hashlib.sha256(request.get_data(cache=True)).hexdigest()


def _dumps(body: Any) -> str:
    """Compact JSON with sorted keys, as Flask answers the read endpoints."""
    return current_app.json.dumps(body, separators=(",", ":")) + "\n"


def _response(result: Result, body_text: str | None = None) -> Response:
    text = body_text if body_text is not None else _dumps(result.body)
    response = Response(text, status=result.status, mimetype="application/json")
    for name, value in result.headers.items():
        response.headers[name] = value
    return response


def _replay(record: Any) -> Response:
    response = _response(Result(record.status, None, dict(record.headers or {})), record.body)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def perform(action: Callable[[Session], Result]) -> Response:
    """Run `action` in one transaction, once per Idempotency-Key."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        with db().transaction() as s:
            result = action(s)
            text = _dumps(result.body)
        return _response(result, text)
    user_id = g.api_user.id
    path = request.path[:500]
    digest = idem.fingerprint(request.method, path, body_fingerprint())
    now = engine().clock.now()
    try:
        with db().transaction() as s:
            record = idem.lookup(s, user_id, key, now)
            if record is not None:
                idem.check_same_request(record, request.method, path, digest)
                return _replay(record)
            record = idem.reserve(s, user_id, key, request.method, path, digest, now)
            result = action(s)
            text = _dumps(result.body)
            idem.finish(record, result.status, text, result.headers)
        return _response(result, text)
    except idem.KeyInFlight:
        # A concurrent request with this key committed first: answer as it did.
        with db().reading() as s:
            record = idem.lookup(s, user_id, key, now)
            if record is None or record.status is None:
                raise
            idem.check_same_request(record, request.method, path, digest)
            return _replay(record)
