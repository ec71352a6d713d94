"""Out-of-office in two clicks, and reassigning from the task page and in bulk."""

from __future__ import annotations

import re

from tests.web.conftest import task_ids


def start(app, user="jdoe"):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        return engine.start(s, "small_approval", {"title": "Laptop", "amount": 10}, user).id


def test_out_of_office_in_two_clicks(app, as_user):
    start(app)
    msmith = as_user("msmith")
    page = msmith.get("/account/out-of-office")  # click 1: the prefilled form
    assert page.status_code == 200 and 'id="delegate-form"' in page.text
    suggested = re.search(r'<option value="([^"]+)" selected>', page.text).group(1)
    dates = dict(re.findall(r'id="(starts_on|ends_on)" name="\1" value="([^"]+)"', page.text))
    done = msmith.post("/account/out-of-office", {"delegate": suggested, **dates})  # click 2
    assert done.status_code == 302
    delegate = as_user(suggested)
    assert len(task_ids(delegate.get("/inbox").text)) == 1  # msmith's review shows in the delegate's inbox
    listing = msmith.get("/account/out-of-office").text
    delegation_id = re.search(r"/account/out-of-office/(\d+)/end", listing).group(1)
    msmith.post(f"/account/out-of-office/{delegation_id}/end")
    assert task_ids(delegate.get("/inbox").text) == []


def test_bad_delegation_is_explained(as_user):
    page = as_user("msmith").post("/account/out-of-office", {"delegate": "msmith"})
    assert page.status_code == 400 and "cannot delegate to yourself" in page.text


def test_reassign_from_task_page_and_in_bulk(app, as_user):
    ids = [start(app) for _ in range(2)]
    msmith, dlee = as_user("msmith"), as_user("dlee")
    tasks = task_ids(msmith.get("/inbox").text)
    assert len(tasks) == 2
    assert 'id="reassign-form"' in dlee.get(f"/tasks/{tasks[0]}").text  # dlee manages msmith
    assert 'id="reassign-form"' not in msmith.get(f"/tasks/{tasks[0]}").text
    dlee.post("/tasks/reassign", {"task_ids": tasks, "to": "dlee", "reason": "msmith is away"})
    assert task_ids(msmith.get("/inbox").text) == []
    assert sorted(task_ids(dlee.get("/inbox").text)) == sorted(tasks)
    refused = as_user("fchan").post(
        "/tasks/reassign", {"task_ids": tasks[:1], "to": "fchan", "reason": "x"}, follow_redirects=True
    )
    assert "only an admin" in refused.text
    assert ids


# --- the same date window everywhere (issue 19 item 5) ----------------------------------------------
def delegate_for(app, clock, start_in: int, days: int) -> None:
    """msmith delegates to sroy from `start_in` days from today, for `days` days."""
    from datetime import timedelta

    from engine.people.delegation import delegate
    from engine.people.users import get_user

    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    first = engine.today() + timedelta(days=start_in)
    with db.transaction() as s:
        delegate(s, get_user(s, "msmith"), "sroy", first, first + timedelta(days=days - 1), "", clock.now())


def sees(app, browser, iid: int) -> tuple[int, bool]:
    from tests.api.conftest import Api, make_token

    listed = Api(app, make_token(app, "sroy", name=f"t{iid}")).get("/instances").json["items"]
    return browser.get(f"/requests/{iid}").status_code, any(item["id"] == iid for item in listed)


def test_a_future_delegation_grants_nothing_before_its_first_day(app, as_user, clock):
    iid = start(app)  # msmith holds the review
    delegate_for(app, clock, start_in=30, days=5)
    sroy = as_user("sroy")
    assert sees(app, sroy, iid) == (404, False)
    assert task_ids(sroy.get("/inbox").text) == []
    clock.advance(days=30)
    assert sees(app, sroy, iid) == (200, True)  # within the window: the request and the task


def test_an_expired_delegation_grants_nothing_and_can_still_be_ended(app, as_user, clock):
    iid = start(app)
    delegate_for(app, clock, start_in=0, days=2)
    sroy, msmith = as_user("sroy"), as_user("msmith")
    assert sees(app, sroy, iid) == (200, True)
    clock.advance(days=3)
    assert sees(app, sroy, iid) == (404, False)
    listing = msmith.get("/account/out-of-office").text
    assert "Expired" in listing
    delegation_id = re.search(r"/account/out-of-office/(\d+)/end", listing).group(1)
    assert msmith.post(f"/account/out-of-office/{delegation_id}/end").status_code == 302
    assert not re.search(r"/account/out-of-office/\d+/end", msmith.get("/account/out-of-office").text)
