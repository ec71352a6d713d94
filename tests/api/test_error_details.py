"""The API's error body names the engine's specific code and its parameters (`details.reason`,
`details.params`, and per field), next to the coarse `code` clients already switch on."""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_error, documents_request, only_task

sqlite_only = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


@sqlite_only
def test_errors_carry_their_reason_and_parameters(api):
    jdoe, ppatel = api("jdoe"), api("ppatel")
    started = jdoe.post("/instances", json={"process": "passport_visa", "data": documents_request()})
    assert started.status_code == 201, started.json
    task = only_task(ppatel, started.json["id"], "UserTask_prepare_visa_application")

    # preparing the visa application is the officer's step, no approval: refused for the role it needs
    lacking = assert_error(jdoe.post(f"/tasks/{task['id']}/claim"), 403, "forbidden")
    params = {"role": "passport_officer", "task": "Prepare visa application"}
    assert lacking["details"] == {"reason": "task_needs_role", "params": params}

    invalid = ppatel.post(f"/tasks/{task['id']}/complete", json={"data": {"visa_ref": "V-CN-1", "extra": 1}})
    error = assert_error(invalid, 400, "validation_failed")
    assert (error["details"]["reason"], error["details"]["params"]) == ("form_has_errors", {})
    fields = {f["path"]: (f["reason"], f["params"]) for f in error["details"]["fields"]}
    assert fields == {"data.extra": ("unknown_field", {}), "data.visa_mission": ("required", {})}

    data = {"data": {"visa_ref": "V-CN-1", "visa_mission": "Beijing"}}
    assert ppatel.post(f"/tasks/{task['id']}/complete", json=data).status_code == 200
    again = assert_error(ppatel.post(f"/tasks/{task['id']}/complete", json=data), 409, "task_already_completed")
    assert again["details"] == {
        "reason": "task_already_completed_by",
        "params": {"task": task["name"], "who": "Priya Patel"},
    }
    assert again["message"] == f"task '{task['name']}' was already completed by Priya Patel"
