"""examples/passport_visa_api.sh, the curl-only walk through a passport and visa request, against a live server."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import pytest
from werkzeug.serving import make_server

from engine.people.service_accounts import add_service_account
from tests.api.conftest import make_token
from tests.web.conftest import ROOT

SCRIPT = ROOT / "examples" / "passport_visa_api.sh"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_curl_example_moves_a_request_on_with_the_visa_decision(db, app):
    engine = app.extensions["waypoint.engine"]
    with db.transaction() as s:
        add_service_account(s, "passport_office", now=engine.clock.now(), messages=["passport_issued"])
        add_service_account(s, "embassy", now=engine.clock.now(), messages=["visa_decision"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "WAYPOINT_URL": f"http://127.0.0.1:{server.server_port}",
        "JDOE_TOKEN": make_token(app, "jdoe"),
        "PPATEL_TOKEN": make_token(app, "ppatel"),
        "PASSPORT_OFFICE_TOKEN": make_token(app, "passport_office"),
        "EMBASSY_TOKEN": make_token(app, "embassy"),
    }
    try:
        run = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "jdoe\n  ppatel\n  passport_office\n  embassy" in out
    assert out.count("delivered to request #1") == 2
    assert "a retry with the same Idempotency-Key answers #1" in out
    assert 'open: "Record passport return"' in out and '"status":"running"' in out
    assert out.rstrip().endswith("done")
