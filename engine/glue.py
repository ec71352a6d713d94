"""Registry through which `workflows/` plugs per-process Python glue into the engine.

The engine never imports `workflows`: the composition root (`web.create_app`, the CLI, the
tests) builds a `GlueRegistry`, has `workflows.register` fill it with each process module's
script helpers, inbox summary line, form validators and demo samplers, and hands it to the
`Engine`, which reads it when it runs scripts, saves an instance or validates a submission.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.clock import frozen_time

#: A validator gets the submitted form data (merged over the task data) and returns
#: a list of (field path, message) pairs; an empty list means the data is acceptable.
FormValidator = Callable[[Mapping[str, Any]], list[tuple[str, str]]]
#: A summary function gets the instance data and a language ("en" or "fr") and returns the
#: one-line inbox summary in that language.
SummaryFunction = Callable[[Mapping[str, Any], str], str]
#: A start sampler gets a random generator and "today" (ISO) and returns realistic start data.
StartSampler = Callable[[Any, str], dict[str, Any]]
#: A message sampler gets the correlation a waiting event expects and a random generator.
MessageSampler = Callable[[Mapping[str, Any], Any], dict[str, Any]]


@dataclass
class ProcessGlue:
    """What one process contributes besides its BPMN: summary line and form validators."""

    key: str
    summary: SummaryFunction | None = None
    validators: dict[str, FormValidator] = field(default_factory=dict)
    #: whether a request counts as approved (it can no longer be withdrawn; calendars go out)
    approved: Callable[[Mapping[str, Any]], bool] | None = None
    #: report facets from the data: any of country, unit, starts_on, ends_on (ISO dates)
    facets: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    #: how long personal data is kept after the request closes (ISO 8601 duration, e.g. P2Y)
    retention: str | None = None


class GlueRegistry:
    """Holds script helpers and per-process glue registered by `workflows/`."""

    def __init__(self) -> None:
        self.helpers: dict[str, Callable[..., Any]] = {}
        self.processes: dict[str, ProcessGlue] = {}
        self.start_samplers: dict[str, tuple[StartSampler, tuple[str, ...]]] = {}
        self.message_samplers: dict[str, MessageSampler] = {}
        #: message names that arrive from outside the BPMN files (API, CLI, mail), with a description
        self.messages: dict[str, str] = {}

    def helper(self, fn: Callable[..., Any], *, name: str | None = None) -> Callable[..., Any]:
        """Register `fn` as a function BPMN scripts, conditions and DMN cells may call."""
        helper_name = name or fn.__name__
        if helper_name.startswith("_"):
            raise ValueError(f"helper names may not start with '_': {helper_name}")
        self.helpers[helper_name] = fn
        return fn

    def message(self, name: str, description: str = "") -> str:
        """Register `name` as a message delivered from outside (checks then accept events that use it)."""
        if not name or name != name.strip():
            raise ValueError(f"message names must be non-empty without surrounding spaces: {name!r}")
        self.messages[name] = description
        return name

    def process(
        self,
        key: str,
        *,
        summary: SummaryFunction | None = None,
        validators: Mapping[str, FormValidator] | None = None,
        approved: Callable[[Mapping[str, Any]], bool] | None = None,
        facets: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
        retention: str | None = None,
    ) -> ProcessGlue:
        """Register the summary line, validators, approval rule, report facets and retention of `key`."""
        glue_entry = ProcessGlue(key, summary, dict(validators or {}), approved, facets, retention)
        self.processes[key] = glue_entry
        return glue_entry

    def start_sampler(self, key: str, fn: StartSampler, starters: tuple[str, ...] = ("requester",)) -> None:
        """Register realistic start data for demo requests of `key`, started by users of `starters`."""
        self.start_samplers[key] = (fn, starters)

    def message_sampler(self, name: str, fn: MessageSampler) -> None:
        """Register realistic payloads of message `name` for demo runs."""
        self.message_samplers[name] = fn

    def sample_message(self, name: str, correlation: Mapping[str, Any], rng: Any) -> dict[str, Any] | None:
        """A realistic payload of message `name` for a waiting event's correlation (None: no sampler)."""
        sampler = self.message_samplers.get(name)
        return sampler(correlation, rng) if sampler is not None else None

    def is_approved(self, key: str, data: Mapping[str, Any]) -> bool:
        """True when the process says this request counts as approved."""
        entry = self.processes.get(key)
        return bool(entry and entry.approved and entry.approved(data))

    def facets_for(self, key: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Report facets of a request (empty when the process declares none or they fail)."""
        entry = self.processes.get(key)
        if entry is None or entry.facets is None:
            return {}
        try:
            return dict(entry.facets(data))
        except Exception:  # facets must never block an approval
            return {}

    def summary_for(self, key: str, data: Mapping[str, Any], now: datetime | None = None, language: str = "en") -> str:
        """The inbox summary of an instance of `key` in `language` ("en" or "fr"; default:
        requester — title), written as of `now` (the action's time, which `current_time()` then
        answers: a date shows its year when it is not this year's)."""
        entry = self.processes.get(key)
        if entry is None or entry.summary is None:
            parts = (data.get("requester_name"), data.get("title"))
            return " — ".join(str(p) for p in parts if p)[:500]
        try:
            with frozen_time(now) if now is not None else nullcontext():
                return str(entry.summary(data, language))[:500]
        except Exception:  # a summary must never block an approval
            return ""

    def summaries_for(self, key: str, data: Mapping[str, Any], now: datetime | None) -> tuple[str, str]:
        """The summary line of an instance of `key` in English and in French."""
        return self.summary_for(key, data, now), self.summary_for(key, data, now, "fr")

    def write_summaries(self, instance: Any, data: Mapping[str, Any], now: datetime | None) -> None:
        """Set `instance.summary` and `instance.summary_fr` from its (redacted) `data`."""
        instance.summary, instance.summary_fr = self.summaries_for(instance.process_key, data, now)

    def validate_form(self, form: str, data: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Run every registered cross-field validator for the form file `form`."""
        errors: list[tuple[str, str]] = []
        for entry in self.processes.values():
            validator = entry.validators.get(form)
            if validator is not None:
                errors.extend(validator(data))
        return errors
