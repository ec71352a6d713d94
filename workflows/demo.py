"""Realistic demo requests and message answers for `waypoint demo-data` and benchmarks.

Each sampler returns start data a real requester could have typed (events in real cities,
delegations from real partner agencies) relative to the given "today", so the generated
office history has trips in the past and the future.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from engine.glue import GlueRegistry
from workflows.common import iso_country

EVENTS = [
    ("Interpol General Assembly", "Interpol", "Lyon", "France"),
    ("Europol Cybercrime Conference", "Europol", "The Hague", "Netherlands"),
    ("Five Eyes Forensics Workshop", "AFP", "Canberra", "Australia"),
    ("Financial Crime Symposium", "FATF", "Paris", "France"),
    ("Border Security Expo", "CBP", "Phoenix", "United States"),
    ("Counter-terrorism Seminar", "UNODC", "Vienna", "Austria"),
    ("Police Leadership Forum", "College of Policing", "London", "United Kingdom"),
    ("Digital Evidence Summit", "BKA", "Berlin", "Germany"),
    ("Human Trafficking Workshop", "OSCE", "Warsaw", "Poland"),
    ("Narcotics Intelligence Meeting", "Policía Federal", "Mexico City", "Mexico"),
]
AGENCIES = [
    ("Bundeskriminalamt", "Germany"),
    ("Australian Federal Police", "Australia"),
    ("National Police Agency", "Japan"),
    ("Policía Nacional", "Colombia"),
    ("Garda Síochána", "Ireland"),
    ("Police nationale", "France"),
    ("Kenya National Police Service", "Kenya"),
    ("Polícia Federal", "Brazil"),
]
NAMES = [
    "Anna Weber",
    "Liam Murphy",
    "Yuki Tanaka",
    "Carlos Ruiz",
    "Amina Odhiambo",
    "Léa Martin",
    "João Silva",
    "Sofia Rossi",
    "Noah Smith",
    "Mei Chen",
]


def _trip(rng: random.Random, today: str, length: tuple[int, int] = (2, 6)) -> tuple[str, str]:
    start = date.fromisoformat(today) + timedelta(days=rng.randint(1, 120))  # filed before it starts
    return start.isoformat(), (start + timedelta(days=rng.randint(*length))).isoformat()


def conference_request(rng: random.Random, today: str) -> dict[str, Any]:
    """A conference request with costs and funding typical of the office."""
    event, organizer, city, country = rng.choice(EVENTS)
    start, end = _trip(rng, today)
    funding = rng.choices(
        ["own_unit", "event_sponsor", "foreign_government", "international_organization"], weights=[6, 2, 1, 1]
    )[0]
    return {
        "event_name": event,
        "organizer": organizer,
        "city": city,
        "country": iso_country(country) or country,  # what the country picker stores
        "start_date": start,
        "end_date": end,
        "attendance_role": rng.choice(["attendee", "presenter", "panelist", "organizer"]),
        "purpose": f"Represent the force at {event}",
        "benefit": "Partnerships and current practice",
        "costs": {
            "registration": rng.choice([0, 250, 600, 950]),
            "airfare": rng.randint(600, 3200),
            "lodging": rng.randint(400, 2500),
            "per_diem": rng.randint(150, 700),
            "other": 0,
        },
        "funding_source": funding,
        "members_attending": rng.choice([1, 1, 1, 2, 3, 5]),
    }


def passport_request(rng: random.Random, today: str) -> dict[str, Any]:
    """A passport/visa request, with or without a valid official passport."""
    start, end = _trip(rng, today, (3, 12))
    held = rng.random() < 0.6
    expiry = (date.fromisoformat(end) + timedelta(days=rng.choice([90, 400, 1500]))).isoformat()
    return {
        "traveller_name": rng.choice(NAMES),
        "trip_start_date": start,
        "trip_end_date": end,
        "destinations": rng.sample(["FR", "CN", "IN", "KE", "BR", "JP"], rng.randint(1, 2)),
        "travel_purpose": "Operational meeting",
        "passport_type": rng.choice(["official", "diplomatic"]),
        "current_passport": {
            "held": held,
            **({"number": f"AB{rng.randint(100000, 999999)}", "expiry": expiry} if held else {}),
        },
    }


def delegation_request(rng: random.Random, today: str) -> dict[str, Any]:
    """A foreign delegation with two to four members visiting one or two sites."""
    agency, country = rng.choice(AGENCIES)
    start, end = _trip(rng, today, (1, 4))
    members = [
        {
            "name": name,
            "title": rng.choice(["Inspector", "Director", "Superintendent", "Analyst"]),
            "nationality": country,
            "date_of_birth": f"19{rng.randint(60, 95)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "passport_number": f"P{rng.randint(1000000, 9999999)}",
        }
        for name in rng.sample(NAMES, rng.randint(2, 4))
    ]
    return {
        "agency": agency,
        "country": iso_country(country) or country,
        "purpose": "Exchange on investigative practice",
        "start_date": start,
        "end_date": end,
        "host_unit": "Federal Policing",
        "delegation_seniority": rng.choice(["working_level", "senior_officials", "head_of_agency"]),
        "sites": [{"name": "National Headquarters", "sensitivity": rng.choice([1, 2, 3])}],
        "members": members,
        "gifts_hospitality": "Working lunch",
    }


def passport_issued(correlation: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
    """The passport authority's notice that a passport was issued."""
    return {**correlation, "passport_number": f"OP{rng.randint(100000, 999999)}", "expiry_date": "2031-06-30"}


def visa_decision(correlation: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
    """A mission's visa decision (granted nine times in ten)."""
    return {**correlation, "decision": "granted" if rng.random() < 0.9 else "refused"}


def register(glue: GlueRegistry) -> None:
    """Register the demo samplers with `glue`."""
    glue.start_sampler("conference_attendance", conference_request)
    glue.start_sampler("passport_visa", passport_request)
    glue.start_sampler("delegation_visit", delegation_request, starters=("liaison_officer",))
    glue.message_sampler("passport_issued", passport_issued)
    glue.message_sampler("visa_decision", visa_decision)
