"""API fixtures: bearer tokens for the demo people and the integrations, and a JSON client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask

from engine.people.api_tokens import create_token
from engine.people.service_accounts import add_service_account
from engine.people.users import get_user
from tests.web import conftest as web_fixtures

PREFIX = "/api/v1"

#: the web app fixtures, reused
app, as_user = web_fixtures.app, web_fixtures.as_user


class Api:
    """A test client that speaks JSON to /api/v1 with one user's bearer token."""

    def __init__(self, app: Flask, token: str | None):
        self.app = app
        self.client = app.test_client()
        self.token = token

    def _headers(self, headers: dict | None) -> dict:
        merged = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        merged.update(headers or {})
        return merged

    def get(self, path: str, headers: dict | None = None, **kwargs: Any):  # type: ignore[no-untyped-def]
        return self._checked("GET", path, self.client.get(PREFIX + path, headers=self._headers(headers), **kwargs))

    def post(self, path: str, json: Any = None, headers: dict | None = None, **kwargs: Any):  # type: ignore[no-untyped-def]
        if json is not None:
            kwargs["json"] = json
        return self._checked("POST", path, self.client.post(PREFIX + path, headers=self._headers(headers), **kwargs))

    def _checked(self, method: str, path: str, response: Any) -> Any:
        """Every answer a test sees must match the OpenAPI document (status, headers, body schema)."""
        operation = documented_operation(self.app, method, PREFIX + path.split("?", 1)[0])
        if operation is not None:
            statuses = set(operation.definition.raw["responses"])
            assert str(response.status_code) in statuses, (method, path, response.status_code, sorted(statuses))
            operation.validate_response(response)
        return response


def documented_operation(app: Flask, method: str, path: str) -> Any:
    """The schemathesis operation of the document that `method path` is routed to (None: not an operation)."""
    from werkzeug.exceptions import HTTPException

    from web.api.spec import OPERATIONS

    try:
        endpoint, _ = app.url_map.bind("localhost").match(path, method=method)
    except HTTPException:
        return None
    op = next((o for o in OPERATIONS if o.endpoint == endpoint), None)
    if op is None:
        return None
    if "openapi_schema" not in app.extensions:
        app.extensions["openapi_schema"] = schemathesis.openapi.from_wsgi(PREFIX + "/openapi.json", app)
    return app.extensions["openapi_schema"][op.path][method]


def make_token(app: Flask, username: str, name: str = "tests") -> str:
    """A new token for `username` (its text)."""
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        return create_token(s, get_user(s, username), name, now=engine.clock.now()).secret


@pytest.fixture
def api(app: Flask) -> Callable[[str | None], Api]:
    """`api("jdoe")` → a JSON client with a fresh token of jdoe's; `api(None)` sends no token."""
    return lambda username: Api(app, make_token(app, username) if username else None)


@pytest.fixture
def integrations(app: Flask) -> None:
    """Service accounts: `embassy` (visa_decision), `passport_office` (passport_issued), `hr` (starts for people)."""
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        now = engine.clock.now()
        add_service_account(s, "embassy", now=now, messages=["visa_decision"], description="Embassy link")
        add_service_account(s, "passport_office", now=now, messages=["passport_issued"])
        add_service_account(s, "hr", now=now, start_on_behalf=True, description="HR system")


def documents_request(**overrides: Any) -> dict:
    """Jane Doe's passport and visa request: a trip to China on a valid official passport."""
    data = {
        "traveller_name": "Jane Doe",
        "trip_start_date": "2027-03-08",
        "trip_end_date": "2027-03-11",
        "destinations": ["China"],
        "travel_purpose": "Liaison meeting",
        "passport_type": "official",
        "current_passport": {"held": True, "number": "AB123456", "expiry": "2031-01-01"},
    }
    data.update(overrides)
    return data


def only_task(client: Api, instance_id: int, element: str) -> dict:
    """The one open task of `element` on an instance, as `client` sees it in scope `visible`."""
    page = client.get(f"/tasks?scope=visible&status=ready&instance={instance_id}&element={element}").json
    assert len(page["items"]) == 1, page
    return page["items"][0]


def prepare_visa(ppatel: Api, instance_id: int, visa_ref: str) -> None:
    """The passport officer prepares and submits the visa application, so the request waits for the mission."""
    task = only_task(ppatel, instance_id, "UserTask_prepare_visa_application")
    done = ppatel.post(
        f"/tasks/{task['id']}/complete", json={"data": {"visa_ref": visa_ref, "visa_mission": "Beijing"}}
    )
    assert done.status_code == 200, done.json
    task = only_task(ppatel, instance_id, "UserTask_submit_visa_application")
    done = ppatel.post(f"/tasks/{task['id']}/complete", json={"data": {"visa_submitted_on": "2026-11-25"}})
    assert done.status_code == 200, done.json


def assert_error(response: Any, status: int, code: str | None = None) -> dict:
    """The response is the API's error shape with `status` (and `code`); returns its `error`."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert set(error) == {"code", "message", "details"} and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error
