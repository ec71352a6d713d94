"""JSON Schemas of the API's bodies (OpenAPI 3.1 components): request bodies are validated against
them, and schemathesis checks every response against them in the test suite."""

from __future__ import annotations

from typing import Any

from .spec import MAX_INT


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def page_of(name: str) -> dict[str, Any]:
    """A keyset page: `items` and the cursor of the next page (null on the last)."""
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {"items": {"type": "array", "items": ref(name)}, "next_cursor": nullable("string")},
    }


TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = nullable("string", format="date-time")
ID = {"type": "integer", "minimum": 1, "maximum": MAX_INT}

COMPONENTS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string", "description": "Stable, machine-readable: `validation_failed`, ..."},
                    "message": {"type": "string", "description": "For people."},
                    "details": {
                        "type": "object",
                        "description": "`reason` and `params` (the engine's specific code and its values), "
                        "`fields` (validation: `path`, `message`, `reason`, `params` per field), "
                        "`findings`, `current_etag`, ...",
                    },
                },
            }
        },
    },
    "Me": {
        "type": "object",
        "required": ["username", "display_name", "roles", "service_account"],
        "properties": {
            "username": {"type": "string"},
            "display_name": {"type": "string"},
            "roles": {"type": "array", "items": {"type": "string"}},
            "service_account": {
                "type": ["object", "null"],
                "properties": {
                    "description": {"type": "string"},
                    "messages": {"type": "array", "items": {"type": "string"}},
                    "start_on_behalf": {"type": "boolean"},
                },
            },
        },
    },
    "Process": {
        "type": "object",
        "required": ["key", "name", "version", "versions", "running", "can_start"],
        "properties": {
            "key": {"type": "string"},
            "name": {"type": "string"},
            "version": {"type": "integer"},
            "versions": {"type": "integer"},
            "content_hash": {"type": "string"},
            "deployed_by": nullable("string"),
            "deployed_at": TIME,
            "running": {"type": "integer"},
            "can_start": {"type": "boolean", "description": "The caller may start it (a starter role, a start form)."},
        },
    },
    "ProcessVersion": {
        "type": "object",
        "required": ["key", "version", "name", "content_hash", "deployed_at"],
        "properties": {
            "key": {"type": "string"},
            "version": {"type": "integer"},
            "name": {"type": "string"},
            "content_hash": {"type": "string"},
            "deployed_by": nullable("string"),
            "deployed_at": TIME,
        },
    },
    "StartForm": {
        "type": "object",
        "required": ["key", "version", "schema", "can_start"],
        "properties": {
            "key": {"type": "string"},
            "version": {"type": "integer"},
            "form": nullable("string"),
            "schema": {"type": ["object", "null"], "description": "JSON Schema (draft 2020-12) of `data`."},
            "can_start": {"type": "boolean"},
        },
    },
    "Task": {
        "type": "object",
        "required": ["id", "instance_id", "process_key", "element_id", "name", "status", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "instance_id": {"type": "integer"},
            "process_key": {"type": "string"},
            "element_id": {"type": "string"},
            "name": {"type": "string"},
            "role": nullable("string"),
            "form": nullable("string"),
            "status": {"type": "string", "description": "ready, completed or cancelled"},
            "assignee": nullable("string"),
            "claimed_by": nullable("string"),
            "requester": nullable("string"),
            "summary": {"type": "string"},
            "summary_fr": {"type": "string", "description": "The summary line in French."},
            "created_at": TIME,
            "due_at": NULLABLE_TIME,
            "completed_at": NULLABLE_TIME,
            "completed_by": nullable("string"),
        },
    },
    "TaskDetail": {
        "allOf": [
            ref("Task"),
            {
                "type": "object",
                "required": ["version", "schema", "data", "may_work", "reason"],
                "properties": {
                    "version": {"type": "integer", "description": "The instance's version (also the ETag)."},
                    "schema": {"type": ["object", "null"], "description": "JSON Schema of the task's form."},
                    "data": {"type": "object", "description": "The data the task sees."},
                    "may_work": {"type": "boolean"},
                    "reason": nullable("string", description="Why the caller may not work on it."),
                },
            },
        ]
    },
    "Instance": {
        "type": "object",
        "required": ["id", "process_key", "status", "version", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "integer"},
            "process_key": {"type": "string"},
            "process_version": {"type": "integer"},
            "status": {"type": "string", "description": "running, completed or cancelled"},
            "outcome": nullable("string"),
            "version": {"type": "integer", "description": "Optimistic version (the ETag)."},
            "summary": {"type": "string"},
            "summary_fr": {"type": "string", "description": "The summary line in French."},
            "started_by": nullable("string"),
            "created_at": TIME,
            "updated_at": TIME,
            "ended_at": NULLABLE_TIME,
        },
    },
    "Event": {
        "type": "object",
        "required": ["seq", "at", "actor", "action"],
        "properties": {
            "seq": {"type": "integer"},
            "at": TIME,
            "actor": {"type": "string"},
            "action": {"type": "string"},
            "task_id": nullable("string"),
            "element_id": nullable("string"),
            "element_name": nullable("string"),
            "details": {"type": ["object", "null"]},
        },
    },
    "InstanceDetail": {
        "allOf": [
            ref("Instance"),
            {
                "type": "object",
                "required": ["data", "tasks", "timeline"],
                "properties": {
                    "data": {"type": "object"},
                    "tasks": {"type": "array", "items": ref("Task")},
                    "timeline": {"type": "array", "items": ref("Event")},
                },
            },
        ]
    },
    "CompleteResult": {
        "type": "object",
        "required": ["task", "instance", "next_tasks"],
        "properties": {
            "task": ref("Task"),
            "instance": ref("Instance"),
            "next_tasks": {"type": "array", "items": ref("Task"), "description": "Open tasks of the instance now."},
        },
    },
    "MessageResult": {
        "type": "object",
        "required": ["message", "delivered_to"],
        "properties": {
            "message": {"type": "string"},
            "delivered_to": {"type": "array", "items": ref("Instance")},
        },
    },
    "SignalResult": {
        "type": "object",
        "required": ["signal", "delivered_to"],
        "properties": {
            "signal": {"type": "string"},
            "delivered_to": {"type": "array", "items": ref("Instance")},
        },
    },
    "Attachment": {
        "type": "object",
        "required": ["id", "instance_id", "filename", "content_type", "size", "sha256", "uploaded_at"],
        "properties": {
            "id": {"type": "integer"},
            "instance_id": {"type": "integer"},
            "task_id": nullable("string"),
            "filename": {"type": "string"},
            "content_type": {"type": "string"},
            "size": {"type": "integer"},
            "sha256": {"type": "string"},
            "uploaded_by": nullable("string"),
            "uploaded_at": TIME,
        },
    },
}

# --- request bodies ------------------------------------------------------------------------------
START_BODY = {
    "type": "object",
    "required": ["process"],
    "additionalProperties": False,
    "properties": {
        "process": {"type": "string", "minLength": 1, "maxLength": 100, "description": "Process key."},
        "data": {"type": "object", "description": "Start form data (see the process's start form schema)."},
        "on_behalf_of": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "description": "Username of the requester (service accounts with the start-on-behalf grant).",
        },
        "attachments": {
            "type": "array",
            "maxItems": 10,
            "description": "Files for the start form (PDF, PNG or JPEG, 10 MB each; the request as a whole "
            "stays under 12 MB): required where the start form's `x-attachments.required` asks for them.",
            "items": {
                "type": "object",
                "required": ["filename", "content"],
                "additionalProperties": False,
                "properties": {
                    "filename": {"type": "string", "minLength": 1, "maxLength": 255},
                    "content": {"type": "string", "contentEncoding": "base64", "description": "The file, base64."},
                },
            },
        },
    },
}
COMPLETE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"data": {"type": "object", "description": "Form data (see the task's `schema`)."}},
}
CANCEL_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"reason": {"type": "string", "maxLength": 1000}},
}
MESSAGE_BODY = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255, "description": "BPMN message name."},
        "correlation": {
            "type": "object",
            "minProperties": 1,
            "description": 'Correlation values, e.g. `{"visa_ref": "V-CN-1"}`, or `{"instance": 7}` for one '
            "instance. Left out: computed from the payload by the process's correlation expressions.",
            "properties": {"instance": ID},
        },
        "payload": {"type": "object", "description": "Lands in the catch event's message variable."},
    },
}
UPLOAD_BODY = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "contentMediaType": "application/octet-stream", "description": "PDF, PNG or JPEG"},
        "task_id": {"type": "string", "maxLength": 36},
    },
}
