"""French names of processes and their elements, from the deployed versions' parsed specs.

The BPMN files carry each name's French as a `name_fr` property (on `bpmn:process` for the
process). The task index and the audit trail keep a step's element id and English name, so a
French page asks by element id: two steps may share an English name but not their French one,
and a renamed step keeps its id. Rows that kept only an English name (report groups, outcomes,
error messages) are matched by that name. The newest deployed version wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.definitions import ParsedDefinition, SpecCache
from engine.models import ProcessDefinition


@dataclass
class FrenchNames:
    """The French names of one process: by element id (the process's own under its key), and
    by English name for callers that only know that."""

    by_id: dict[str, str] = field(default_factory=dict)
    by_name: dict[str, str] = field(default_factory=dict)

    def name(self, english: str, element_id: str | None = None) -> str | None:
        """The French of an element (by id when known, else by its English name), or None."""
        return self.by_id.get(element_id) if element_id else self.by_name.get(english.strip())

    def add(self, parsed: ParsedDefinition) -> None:
        """Take the names of one version, keeping those already known (from newer versions)."""
        english = {parsed.key: parsed.name}
        for spec in (parsed.spec, *parsed.subprocess_specs.values()):
            english.update((t.bpmn_id, t.bpmn_name) for t in spec.task_specs.values() if getattr(t, "bpmn_id", None))
        for element_id, french in parsed.names_fr.items():
            self.by_id.setdefault(element_id, french)
            if english.get(element_id):
                self.by_name.setdefault(english[element_id].strip(), french)


#: The last answer of `french_names` and the deployed versions it was read from: French pages ask
#: on every request, and the answer changes only with a deployment (names come from the files).
_last: tuple[tuple[Any, ...], dict[str, FrenchNames]] = ((), {})


def french_names(session: Session, specs: SpecCache) -> dict[str, FrenchNames]:
    """Per process key, the French names of every deployed version of it, newest first (read-only:
    the same answer is shared until a version is deployed)."""
    global _last
    newest_first = ProcessDefinition.id.desc()
    versions = tuple(
        session.execute(
            select(ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.content_hash).order_by(newest_first)
        )
    )
    if versions and _last[0] == versions:
        return _last[1]
    names: dict[str, FrenchNames] = {}
    for definition in session.scalars(select(ProcessDefinition).order_by(newest_first)):
        names.setdefault(definition.key, FrenchNames()).add(specs.get(session, definition))
    _last = (versions, names)
    return names
