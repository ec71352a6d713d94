"""`make install`'s npm step: front-end packages from the lock file, with IBM's install-time
telemetry (which @carbon/* under form-js run, reading the repository's git remote) opted out."""

from __future__ import annotations

from tests.ops.test_make_test import make_dry_run


def test_npm_install_opts_out_of_install_time_telemetry():
    printed = make_dry_run("-W", "package-lock.json", "node_modules/.installed")
    (install,) = [part for part in printed.split(";") if "npm ci" in part]
    assert install.split("npm ci")[0].split()[-1] == "IBM_TELEMETRY_DISABLED=true"  # in npm's environment
    assert "--no-audit" in install  # the lock file as it is, no registry audit call
