"""Personal data of a request as the facade shows it: masked, or revealed and logged."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from engine import permissions
from engine.core import EngineCore
from engine.errors import (
    PermissionDenied,
)
from engine.models import ProcessInstance, SensitiveAccess, User
from engine.privacy.vault import PREFIX as ENCRYPTED
from engine.privacy.vault import mask, personal_paths


class PersonalAccess(EngineCore):
    """Masked display data, and the audited reveal for the people who need personal data."""

    def display_data(self, session: Session, instance: ProcessInstance, reveal: bool = False) -> dict[str, Any]:
        """The data snapshot to show: personal fields masked (`••••`), or in clear with `reveal`
        (the caller has checked the person may see them and logged the access)."""
        data = self.clear_data(instance)
        return data if reveal else mask(data, self.definition_for(session, instance).personal)

    def holds_personal(self, instance: ProcessInstance) -> bool:
        """Whether the request's data holds encrypted personal values (something to reveal)."""
        return ENCRYPTED in json.dumps(instance.data or {})

    def may_reveal(self, user: User, instance: ProcessInstance) -> bool:
        """Whether `user` may see this request's personal fields in clear (always logged)."""
        return permissions.may_reveal(user, instance)

    def reveal(self, session: Session, instance: ProcessInstance, user: User, reason: str) -> dict[str, Any]:
        """The clear data of a request for a permitted user, recorded in the access log.

        :raise PermissionDenied: when the user's roles do not need personal data
        """
        if not self.may_reveal(user, instance):
            raise PermissionDenied("personal_data_forbidden")
        personal = self.definition_for(session, instance).personal
        data = self.clear_data(instance)
        fields = sorted({path for path in personal_paths(data, personal)})
        session.add(
            SensitiveAccess(
                user_id=user.id, instance_id=instance.id, at=self.clock.now(), reason=reason[:200], fields=fields
            )
        )
        session.flush()
        return data

    def clear_data(self, instance: ProcessInstance) -> dict[str, Any]:
        """The instance's data snapshot with personal fields decrypted (show it masked)."""
        return self.vault.unseal(instance.data or {}) if self.holds_personal(instance) else dict(instance.data or {})
