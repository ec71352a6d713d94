"""Attachments over the API: upload (multipart), list, metadata, download; type, size and visibility checks."""

from __future__ import annotations

import io

import pytest

from tests.api.conftest import assert_error, documents_request

PDF = b"%PDF-1.4\n% a tiny test file\n"
sqlite_only = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


def upload(client, instance_id, content=PDF, name="letter.pdf", **extra):  # type: ignore[no-untyped-def]
    data = {"file": (io.BytesIO(content), name), **extra}
    return client.post(f"/instances/{instance_id}/attachments", data=data, content_type="multipart/form-data")


def test_upload_list_read_and_download(api):
    jdoe = api("jdoe")
    instance_id = jdoe.post("/instances", json={"process": "passport_visa", "data": documents_request()}).json["id"]
    stored = upload(jdoe, instance_id, name="../../invitation letter.pdf")
    assert stored.status_code == 201, stored.json
    body = stored.json
    assert (body["filename"], body["content_type"], body["size"]) == (
        "invitation letter.pdf",
        "application/pdf",
        len(PDF),
    )
    assert body["uploaded_by"] == "jdoe" and stored.headers["Location"] == f"/api/v1/attachments/{body['id']}"
    assert [a["id"] for a in jdoe.get(f"/instances/{instance_id}/attachments").json] == [body["id"]]
    assert jdoe.get(f"/attachments/{body['id']}").json == body
    download = jdoe.get(f"/attachments/{body['id']}/content")
    assert download.status_code == 200 and download.data == PDF and download.mimetype == "application/pdf"
    download.close()
    assert_error(api("fchan").get(f"/attachments/{body['id']}"), 404)
    assert_error(api("fchan").get(f"/attachments/{body['id']}/content"), 404)
    assert_error(api("fchan").get(f"/instances/{instance_id}/attachments"), 404)
    assert_error(upload(api("fchan"), instance_id), 404)
    assert_error(jdoe.get("/attachments/999"), 404)


def test_uploads_are_checked(api, app):
    jdoe = api("jdoe")
    instance_id = jdoe.post("/instances", json={"process": "passport_visa", "data": documents_request()}).json["id"]
    error = assert_error(upload(jdoe, instance_id, content=b"MZ\x90\x00 not a pdf"), 400, "validation_failed")
    assert error["details"]["fields"][0]["path"] == "file"
    assert_error(upload(jdoe, instance_id, content=b""), 400)
    wrong_task = upload(jdoe, instance_id, task_id="00000000-0000-0000-0000-000000000000")
    assert assert_error(wrong_task, 400)["details"]["fields"][0]["path"] == "task_id"
    missing = jdoe.post(f"/instances/{instance_id}/attachments", data={"x": "1"}, content_type="multipart/form-data")
    assert assert_error(missing, 400)["details"]["fields"][0]["path"] == "file"
    assert_error(jdoe.post(f"/instances/{instance_id}/attachments", json={"file": "x"}), 415, "unsupported_media_type")
    app.config["MAX_CONTENT_LENGTH"] = 2000
    assert_error(upload(jdoe, instance_id, content=PDF + b"0" * 3000), 413, "payload_too_large")
    assert_error(jdoe.post("/instances", data=b"{" + b" " * 3000 + b"}", content_type="application/json"), 413)


def test_a_start_form_s_required_files_come_with_the_start(api, app, tmp_path):
    """The start form asks for one file (`x-attachments.required`): the API refuses a start without it,
    or with content that is not base64, and stores nothing; with it, the request has its file."""
    import base64

    from tests.web.test_start_form_help import _count, _require_a_file

    _require_a_file(app, tmp_path)
    jdoe, body = api("jdoe"), {"process": "small_approval", "data": {"title": "Chairs", "amount": 950}}
    missing = assert_error(jdoe.post("/instances", json=body), 400)
    assert [(f["path"], f["reason"]) for f in missing["details"]["fields"]] == [("attachments", "attach_at_least")]
    garbled = {**body, "attachments": [{"filename": "quote.pdf", "content": "not base64!"}]}
    refused = assert_error(jdoe.post("/instances", json=garbled), 400)
    assert [f["path"] for f in refused["details"]["fields"]] == ["attachments.0.content"] and _count(app) == 0
    quote = {"filename": "quote.pdf", "content": base64.b64encode(PDF).decode()}
    started = jdoe.post("/instances", json={**body, "attachments": [quote]})
    assert started.status_code == 201, started.json
    [stored] = jdoe.get(f"/instances/{started.json['id']}/attachments").json
    assert (stored["filename"], stored["uploaded_by"], stored["size"]) == ("quote.pdf", "jdoe", len(PDF))
