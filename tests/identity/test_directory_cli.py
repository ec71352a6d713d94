"""`waypoint directory sync [--dry-run]` as an operator runs it (a real process, settings from the
environment), and the worker's scheduled sync (a periodic job, one run per due time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import ldap3
from sqlalchemy import select

from engine.config import DirectorySettings
from engine.models import Incident, User
from engine.people.users import find_user
from engine.worker.periodic import DIRECTORY_JOB, PeriodicJobs
from tests.identity.conftest import dn

WAYPOINT = [sys.executable, "-m", "cli"]


def env_for(url: str, settings: DirectorySettings) -> dict[str, str]:
    return {
        **os.environ,
        "WAYPOINT_DATABASE_URL": url,
        "WAYPOINT_LDAP_URL": settings.url,
        "WAYPOINT_LDAP_BIND_DN": settings.bind_dn,
        "WAYPOINT_LDAP_BIND_PASSWORD": settings.bind_password,
        "WAYPOINT_LDAP_BASE_DN": settings.base_dn,
        "WAYPOINT_LDAP_PAGE_SIZE": "3",
    }


def waypoint(env: dict[str, str], *args: str, expect: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run([*WAYPOINT, *args], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == expect, done.stderr + done.stdout
    return done


def test_the_command_maps_groups_dry_runs_and_syncs(ldap_tree, ldap_settings, sqlite_db):
    env = env_for(str(sqlite_db.engine.url), ldap_settings)
    assert "mapped supervisors -> supervisor" in waypoint(env, "directory", "map", "supervisors", "supervisor").stdout
    dry = waypoint(env, "directory", "sync", "--dry-run")
    assert "7 people read" in dry.stdout and "dry run: nothing saved" in dry.stdout and "new: jdoe" in dry.stdout
    with sqlite_db.reading() as s:
        assert find_user(s, "jdoe") is None
    report = json.loads(waypoint(env, "directory", "sync", "--json").stdout)
    assert report["managers"]["jdoe"] == [None, "msmith"] and report["granted"]["kchen"] == ["supervisor"]
    with sqlite_db.reading() as s:
        assert find_user(s, "jdoe").manager.username == "msmith"


def test_an_unreachable_directory_is_a_clear_error(ldap_settings, sqlite_db):
    env = {**env_for(str(sqlite_db.engine.url), ldap_settings), "WAYPOINT_LDAP_URL": "ldap://127.0.0.1:9"}
    failed = waypoint(env, "directory", "sync", expect=1)
    assert failed.stderr.startswith("error: the directory at ldap://127.0.0.1:9 could not be read")
    assert "Traceback" not in failed.stderr


def test_the_worker_syncs_at_the_scheduled_times(ldap_tree, ldap_settings, sqlite_db, engine, clock):
    jobs = PeriodicJobs(sqlite_db, engine, "w1", ldap_settings)
    assert jobs.run_directory_sync() == 0  # the first round only writes the job's first due time
    clock.advance(hours=1, minutes=1)
    assert jobs.run_directory_sync() > 0
    assert jobs.run_directory_sync() == 0  # done for this due time
    ldap_tree.modify(dn("jdoe"), {"manager": [(ldap3.MODIFY_REPLACE, [dn("kchen")])]})
    clock.advance(hours=1)
    assert jobs.run_directory_sync() == 1
    with sqlite_db.reading() as s:
        assert find_user(s, "jdoe").manager.username == "kchen"


def test_a_failed_scheduled_sync_opens_an_incident(ldap_settings, sqlite_db, engine, clock):
    from dataclasses import replace

    jobs = PeriodicJobs(sqlite_db, engine, "w1", replace(ldap_settings, url="ldap://127.0.0.1:9"))
    jobs.run_directory_sync()
    clock.advance(hours=1, minutes=1)
    assert jobs.run_directory_sync() == 0
    with sqlite_db.reading() as s:
        incident = s.scalars(select(Incident)).one()
        assert DIRECTORY_JOB in incident.error and s.scalars(select(User)).first() is None


def test_no_directory_no_job(sqlite_db, engine, clock):
    jobs = PeriodicJobs(sqlite_db, engine, "w1")
    clock.advance(hours=3)
    assert jobs.run_directory_sync() == 0 and DIRECTORY_JOB not in jobs._jobs()


def test_people_and_mapping_commands(sqlite_db, clock):
    from engine.demo.people import seed_demo_users

    with sqlite_db.transaction() as s:
        seed_demo_users(s, clock.now(), password=None)
    env = {**os.environ, "WAYPOINT_DATABASE_URL": str(sqlite_db.engine.url)}
    waypoint(env, "directory", "map", "Travel Finance", "finance")
    assert waypoint(env, "directory", "groups").stdout == "Travel Finance\tfinance\n"
    waypoint(env, "directory", "unmap", "Travel Finance", "finance")
    assert waypoint(env, "directory", "groups").stdout == ""
    refused = waypoint(env, "directory", "map", "x", "nope", expect=1).stderr
    assert refused.startswith("error: ") and "nope" in refused
    done = waypoint(env, "people", "deactivate", "jdoe", "--reason", "left the force")
    assert done.stdout.startswith("deactivated jdoe: 0 open task(s) moved")
    assert "already deactivated" in waypoint(env, "people", "deactivate", "jdoe", expect=1).stderr
    waypoint(env, "people", "reactivate", "jdoe")
    with sqlite_db.reading() as s:
        assert find_user(s, "jdoe").active
    unconfigured = waypoint(env, "directory", "sync", expect=1).stderr
    assert "error: no directory is configured (WAYPOINT_LDAP_URL)" in unconfigured
