"""The country picker: a French requester picks "Russie" from the list of countries named in
French; the form stores the code RU, and the advisory table routes the request to the director."""

from __future__ import annotations

import re

from sqlalchemy import select

from engine.models import ProcessInstance


def test_a_french_requester_picks_russie_from_the_picker_and_gets_level_4(app, as_user, people):
    jdoe = as_user("jdoe")
    jdoe.post("/language", {"lang": "fr", "next": "/inbox"})
    form = jdoe.get("/requests/new/conference_attendance").text
    assert '<html lang="fr">' in form
    picked = re.search(r'<option value="([A-Z]{2})" *>Russie</option>', form)
    assert picked and picked.group(1) == "RU"
    assert '<option value="DE" >Allemagne</option>' in form  # every country, named in French
    fields = {
        "event_name": "Assemblée générale",
        "organizer": "Interpol",
        "city": "Moscou",
        "country": picked.group(1),
        "start_date": "2027-03-08",
        "end_date": "2027-03-11",
        "attendance_role": "presenter",
        "purpose": "Présenter nos résultats.",
        "benefit": "Coopération.",
        "costs.registration": "900",
        "costs.airfare": "1800",
        "costs.lodging": "1200",
        "costs.per_diem": "410",
        "costs.other": "0",
        "funding_source": "own_unit",
        "members_attending": "1",
    }
    done = jdoe.post("/requests/new/conference_attendance", fields)
    assert done.status_code == 302, done.text[-2000:]
    instance_id = int(done.headers["Location"].rsplit("/", 1)[1])
    with people.reading() as s:
        data = s.scalars(select(ProcessInstance).where(ProcessInstance.id == instance_id)).one().data
    assert (data["country"], data["advisory_level"], data["needs_senior_approval"]) == ("RU", 4, True)
    assert data["route_reason_fr"] == "Niveau d'avertissement 3-4"
    page = jdoe.get(f"/requests/{instance_id}").text
    assert "Russie" in page  # the request page names the picked code in the page's language
