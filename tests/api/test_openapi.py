"""The OpenAPI document is true to the code: every route documented, every documented route real, and
schemathesis (property-based, from the document) finds no server error and no undocumented answer."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import assert_error, documents_request, make_token

sqlite_only = pytest.mark.parametrize("db", ["sqlite"], indirect=True)
#: per operation and generation mode: bounded, so the whole run takes seconds
MAX_EXAMPLES = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _routes(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.unknown":
            path = rule.rule.removeprefix("/api/v1").replace("<", "{").replace(">", "}")
            found |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return found


@sqlite_only
def test_every_route_is_documented_and_every_documented_route_exists(db, app, api):
    document = api(None).get("/openapi.json").json
    assert document["openapi"] == "3.1.0"
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert documented == _routes(app)
    for path, item in document["paths"].items():
        for method, entry in item.items():
            assert entry["summary"] and entry["responses"], (method, path)
            declared = {p["name"] for p in entry["parameters"] if p["in"] == "path"}
            assert declared == {part[1:-1] for part in path.split("/") if part.startswith("{")}, path


@sqlite_only
def test_unknown_paths_and_methods_answer_in_the_error_shape(db, api):
    client = api("jdoe")
    assert_error(client.get("/nothing/here"), 404, "not_found")
    assert_error(client.get("/"), 404, "not_found")
    wrong = client.client.delete("/api/v1/instances")
    assert_error(wrong, 405, "method_not_allowed")
    assert wrong.headers["Allow"] == "GET, POST"


@sqlite_only
def test_the_docs_page_lists_every_operation(db, api):
    page = api(None).get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    for text in ("POST /instances", "POST /messages", "Idempotency-Key", "If-Match", "InstanceDetail"):
        assert text in page.text


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(app, api, integrations):
    admin = make_token(app, "admin")  # an admin reaches the most code
    api("jdoe").post("/instances", json={"process": "passport_visa", "data": documents_request()})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {tuple(o.label.split(" ", 1)) for o in operations}
    assert labels == _routes(app) - {("GET", "/openapi.json")}  # schemathesis skips the document itself
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):  # type: ignore[no-untyped-def]
                case.call_and_validate(headers={"Authorization": f"Bearer {admin}"}, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to make invalid (no parameters, no body)
