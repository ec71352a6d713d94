"""What the walks (test_office_walk.py, test_french_walk.py) share: `Walk`, the demo people's signed-in
pages watched for server errors, and the steps of the three processes as the walks do them in the
browser. The checks the steps always made (the task found and opened, the flash after it, the request
filed, security's queue) stay in them; what a walk checks on its own stays in the walk."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta

TASK_URL = re.compile(r"/tasks/[^/?]+$")
TASK_LINK = "a[href^='/tasks/']"


def open_row(page, rows) -> None:
    """Open the task of the first of the inbox `rows`."""
    rows.first.locator(TASK_LINK).first.click()
    page.wait_for_url(TASK_URL)


def decide(page, field: str | None = None, value: str | None = None) -> None:
    """Complete the open task: its decision button `value`, or the choice `field`=`value` then Complete."""
    button = page.locator(f"fieldset.decision button[value='{value}']") if value else None
    if button is not None and button.count():
        button.click()
    else:
        if field and value:
            page.check(f"input[name='{field}'][value='{value}']")
        page.click("#complete")
    page.wait_for_url(re.compile(r"/inbox"))


class Walk:
    """Signed-in pages of the demo people, watching every response for a server error."""

    def __init__(self, open_page, live):
        self.open_page, self.live = open_page, live
        self.pages: dict[str, object] = {}
        self.server_errors: list[str] = []

    def as_(self, username: str):
        if username not in self.pages:
            page = self.open_page(username)
            page.on("response", lambda r, who=username: self._watch(who, r))
            self.pages[username] = page
        return self.pages[username]

    def _watch(self, who: str, response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{who}: {response.status} {response.url}")

    def today(self) -> date:
        return self.live.clock.now().date()

    def dates(self, ahead: int, lasting: int) -> tuple[date, date]:
        """A start `ahead` days after the test clock's today and the end `lasting` days after it."""
        start = self.today() + timedelta(days=ahead)
        return start, start + timedelta(days=lasting)

    def move_clock_to(self, day: date) -> int:
        """Move the clock to noon UTC of `day` and fire what came due (the worker would)."""
        now = self.live.clock.now()
        self.live.clock.set(now.replace(year=day.year, month=day.month, day=day.day, hour=12, minute=0))
        return self.live.fire_due_timers()

    def open_task(self, who: str, instance_id: int, step: str, search: str = ""):
        """Find the step of the request in `who`'s inbox (their tasks, then their team queue) and open it."""
        page = self.as_(who)
        seen = []
        for tab in ("mine", "queue"):
            page.goto(f"{self.live.url}/inbox?tab={tab}&q={search}")
            rows = page.locator("#inbox-table tbody tr").filter(has_text=f"#{instance_id} ").filter(has_text=step)
            if rows.count():
                open_row(page, rows)
                assert step in page.inner_text("main")
                return page
            seen.append(f"{tab}: {page.inner_text('main')[:600]}")
        raise AssertionError(f"{who} has no “{step}” for request #{instance_id} in the inbox:\n" + "\n".join(seen))

    def finish(self, page, instance_id: int, field: str | None = None, value: str | None = None) -> None:
        """Decide (the decision button, or the choice then Complete) and check the flash on the inbox."""
        decide(page, field, value)
        flash = page.inner_text(".flashes .flash-success")
        assert f"{instance_id}" in flash, flash

    def new_request(self, who: str, process: str):
        """`who`'s page on the start form of `process` (its key)."""
        page = self.as_(who)
        page.goto(f"{self.live.url}/requests/new/{process}")
        return page

    def request_page(self, who: str, instance_id: int):
        page = self.as_(who)
        page.goto(f"{self.live.url}/requests/{instance_id}")
        return page

    def where_it_stands(self, who: str, instance_id: int) -> str:
        page = self.request_page(who, instance_id)
        return page.inner_text("section[aria-labelledby=now-heading]")

    def assert_closed(self, who: str, instance_id: int, outcome: str, closed: str) -> None:
        page = self.request_page(who, instance_id)
        # the status badge: "completed" (status-completed), or "Closed" (tone-closed) where statuses are derived
        badge = page.locator("dl.facts .badge").first
        classes = badge.get_attribute("class") or ""
        assert re.search(r"\b(status-completed|tone-closed)\b", classes), page.inner_html("dl.facts")
        facts = page.inner_text("dl.facts")
        assert outcome in facts, facts
        assert closed in page.inner_text("section[aria-labelledby=now-heading]")
        assert page.locator("ul.current-steps li").count() == 0

    def no_server_error(self) -> None:
        assert not self.server_errors, self.server_errors


def file_request(page) -> int:
    """Submit the start form on `page`; the request page says it was filed."""
    page.click("#submit-request")
    page.wait_for_url(re.compile(r"/requests/\d+$"))
    instance_id = int(page.url.rsplit("/", 1)[1])
    assert str(instance_id) in page.inner_text(".flashes .flash-success")
    return instance_id


def record_outside_event(
    page,
    has_text: str,
    fill: Mapping[str, str] = {},  # noqa: B006  (read only)
    check: Mapping[str, str] = {},  # noqa: B006
    summary: str | None = None,
) -> None:
    """On the request page: open the form of the outside wait that reads `has_text` (its summary that
    reads `summary`), choose the radios `check` (name → value), fill `fill` (name → value), submit."""
    wait = page.locator(".outside-wait").filter(has_text=has_text)
    wait.locator("summary", has_text=summary).click()
    for name, value in check.items():
        wait.locator(f"input[name={name}][value={value}]").check()
    for name, value in fill.items():
        wait.locator(f"[name={name}]").fill(value)
    wait.locator("button[type=submit]").click()
    page.wait_for_load_state()


# --- conference attendance -----------------------------------------------------------------------


def fill_conference_request(
    page,
    event: tuple[str, str, str, str],
    dates: tuple[date, date],
    role: str,
    why: tuple[str, str],
    costs: Mapping[str, str],
    funding: str,
) -> None:
    """The conference start form: `event` (name, organizer, city, country), `dates` (start, end), the
    attendance `role`, `why` (purpose, benefit), `costs` (item → amount, in order), the funding source;
    one member attending."""
    name, organizer, city, country = event
    page.fill("#f-event_name", name)
    page.fill("#f-organizer", organizer)
    page.fill("#f-city", city)
    page.select_option("#f-country", country)
    page.fill("#f-start_date", dates[0].isoformat())
    page.fill("#f-end_date", dates[1].isoformat())
    page.check(f"input[name=attendance_role][value={role}]")
    page.fill("#f-purpose", why[0])
    page.fill("#f-benefit", why[1])
    for item, amount in costs.items():
        page.fill(f"#f-costs-{item}", amount)
    page.select_option("#f-funding_source", funding)
    page.fill("#f-members_attending", "1")


def approve_conference(walk: Walk, instance_id: int, search: str, cost_centre: str) -> None:
    """The supervisor approves; finance confirms the funds on `cost_centre`."""
    msmith = walk.open_task("msmith", instance_id, "Supervisor review", search)
    walk.finish(msmith, instance_id, "supervisor_decision", "approve")
    fchan = walk.open_task("fchan", instance_id, "Confirm funds", search)
    fchan.fill("#f-cost_centre", cost_centre)
    walk.finish(fchan, instance_id, "finance_decision", "confirm")


def file_trip_report(walk: Walk, page, instance_id: int, summary: str, total_cost: str) -> None:
    """On the open “Submit trip report” task: the objectives were met."""
    page.fill("#f-report_summary", summary)
    page.check("input[name=objectives_met][value=yes]")
    page.fill("#f-actual_total_cost", total_cost)
    walk.finish(page, instance_id)


# --- passport and visa ---------------------------------------------------------------------------


def fill_documents_request(
    page,
    dates: tuple[date, date],
    purpose: str,
    passport: tuple[str, date],
    traveller: str = "Rémi Martin",
    destinations: Sequence[str] = ("FR", "CN"),  # China needs a visa (visa_requirement.dmn)
) -> None:
    """The passport and visa start form: trip `dates` (start, end), an official passport, the
    `passport` (number, expiry) held now."""
    page.fill("#f-traveller_name", traveller)
    page.fill("#f-trip_start_date", dates[0].isoformat())
    page.fill("#f-trip_end_date", dates[1].isoformat())
    for country in destinations:
        page.check(f"input[name=destinations][value={country}]")
    page.fill("#f-travel_purpose", purpose)
    page.check("input[name=passport_type][value=official]")
    page.check("#f-current_passport-held")
    page.fill("#f-current_passport-number", passport[0])
    page.fill("#f-current_passport-expiry", passport[1].isoformat())


def prepare_passport(walk: Walk, instance_id: int, search: str, application_ref: str):
    """The passport officer prepares a renewal; the traveller (rmartin) supplies photos and forms:
    his page, on the inbox, is returned."""
    ppatel = walk.open_task("ppatel", instance_id, "Prepare passport application", search)
    ppatel.fill("#f-application_ref", application_ref)
    walk.finish(ppatel, instance_id, "application_type", "renewal")
    rmartin = walk.open_task("rmartin", instance_id, "Fournir les photos et les formulaires", search)
    rmartin.check("#f-photos_supplied")
    rmartin.check("#f-application_form_signed")
    walk.finish(rmartin, instance_id)
    return rmartin


def submit_passport(walk: Walk, instance_id: int, search: str) -> None:
    ppatel = walk.open_task("ppatel", instance_id, "Submit passport application", search)
    ppatel.fill("#f-passport_submitted_on", walk.today().isoformat())
    walk.finish(ppatel, instance_id, "submission_channel", "courier")


def apply_for_visa(walk: Walk, instance_id: int, search: str, visa_ref: str) -> None:
    """The passport officer prepares the visa application to China's embassy and submits it today."""
    ppatel = walk.open_task("ppatel", instance_id, "Prepare visa application", search)
    ppatel.fill("#f-visa_ref", visa_ref)
    ppatel.fill("#f-visa_mission", "Embassy of China")
    walk.finish(ppatel, instance_id)
    ppatel = walk.open_task("ppatel", instance_id, "Submit visa application", search)
    ppatel.fill("#f-visa_submitted_on", walk.today().isoformat())
    walk.finish(ppatel, instance_id)


def record_visa_granted(walk: Walk, instance_id: int):
    """The passport officer records, from the request page, the visa granted today; his page is returned."""
    ppatel = walk.request_page("ppatel", instance_id)
    record_outside_event(
        ppatel, "Record visa decision", check={"decision": "granted"}, fill={"decided_on": walk.today().isoformat()}
    )
    return ppatel


def sign_out_passport(walk: Walk, page, instance_id: int) -> None:
    """On the open “Sign out passport before departure” task: signed out today, acknowledged."""
    page.fill("#f-passport_signed_out_on", walk.today().isoformat())
    page.check("#f-traveller_acknowledged")
    walk.finish(page, instance_id)


# --- delegation visit ----------------------------------------------------------------------------

MEMBERS = (
    ("Hans Weber", "Director", "1970-02-03", "C01X00T47"),
    ("Petra Klein", "Chief Inspector", "1982-07-19", "C02Y11T58"),
)


def file_visit(page, live, agency: str, start: date, end: date, members: int) -> int:
    page.goto(f"{live.url}/requests/new/delegation_visit")
    page.fill("#f-agency", agency)
    page.select_option("#f-country", "DE")
    page.fill("#f-purpose", "Cybercrime cooperation")
    page.fill("#f-start_date", start.isoformat())
    page.fill("#f-end_date", end.isoformat())
    page.fill("#f-host_unit", "Federal Policing Cybercrime")
    page.check("input[name=delegation_seniority][value=working_level]")
    page.fill("#f-sites-0-name", "HQ conference centre")
    page.select_option("#f-sites-0-sensitivity", "1")
    rows = page.locator("#f-members")
    for index, (name, title, born, passport) in enumerate(MEMBERS[:members]):
        if index:
            rows.locator("[data-add-row]").click()
        row = rows.locator("li.row-item").nth(index)
        row.locator("[name$='.name']").fill(name)
        row.locator("[name$='.title']").fill(title)
        row.locator("[name$='.nationality']").fill("German")
        row.locator("[name$='.date_of_birth']").fill(born)
        row.locator("[name$='.passport_number']").fill(passport)
    return file_request(page)


def screenings(walk: Walk, search: str):
    """Security's (sroy) queue of screenings, searched for `search`."""
    sroy = walk.as_("sroy")
    sroy.goto(f"{walk.live.url}/inbox?tab=queue&q={search}")
    return sroy.locator("#inbox-table tbody tr").filter(has_text="Screen visitor")


def clear_screening(walk: Walk, rows) -> None:
    """Security opens the first screening of `rows` and clears the member."""
    sroy = walk.as_("sroy")
    open_row(sroy, rows)
    decide(sroy, "screening_result", "cleared")


def screen_members(walk: Walk, search: str, members: int) -> None:
    """Security clears each member, each screening its own row in the queue, named by member."""
    sroy = walk.as_("sroy")
    for member in (f"M{n}" for n in range(1, members + 1)):
        rows = screenings(walk, search)
        if member == "M1":
            assert rows.count() == members, sroy.inner_text("#inbox-table")
        rows = rows.filter(has_text=f"Screen visitor {member}")
        assert rows.count() == 1, sroy.inner_text("#inbox-table")
        clear_screening(walk, rows)
        assert "Screen visitor" in sroy.inner_text(".flashes .flash-success")


def approve_visit(
    walk: Walk,
    instance_id: int,
    search: str,
    agenda: str,
    host: tuple[str, str, str] = ("mgirard", "Host unit approval", "Insp. Girard"),
    letters_sent_on: date | None = None,
):
    """The host unit approves (`host`: who, the step as they read it, the contact they name); the ITV
    office (cgagnon) approves and arranges the protocol: `agenda`, transport, the invitation letters
    if sent. cgagnon's page is returned."""
    who, step, contact = host
    page = walk.open_task(who, instance_id, step, search)
    page.fill("#f-host_contact_name", contact)
    walk.finish(page, instance_id, "host_unit_decision", "approve")
    cgagnon = walk.open_task("cgagnon", instance_id, "Approbation du bureau VIV", search)
    walk.finish(cgagnon, instance_id, "itv_decision", "approve")
    cgagnon = walk.open_task("cgagnon", instance_id, "Organiser le protocole", search)
    cgagnon.fill("#f-agenda", agenda)
    cgagnon.check("#f-transport_arranged")
    if letters_sent_on:
        cgagnon.check("#f-invitation_letters_sent")
        cgagnon.fill("#f-invitation_letters_sent_on", letters_sent_on.isoformat())
    walk.finish(cgagnon, instance_id)
    return cgagnon


def write_visit_report(walk: Walk, who: str, instance_id: int, step: str, search: str, summary: str) -> None:
    page = walk.open_task(who, instance_id, step, search)
    page.fill("#f-visit_summary", summary)
    walk.finish(page, instance_id)
