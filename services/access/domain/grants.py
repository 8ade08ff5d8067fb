"""The grant-kind table: every kind of grant a professional may read a DSP with, one row each, in precedence order
(a decision names the first one in force). Everything that depends on a grant's kind reads it from here: how long
it lasts (counted from when it is given), whether the patient's emergency setting turns it off, the notice she
gets when it is given and when it ends, whether giving it is counted for the operators' break-the-glass watch, the
audit wording of the command that gives it, and the reason a decision gives when it lets the professional in. The
contract's names are `schemas.access.GrantKindName` (a unit test keeps the two equal). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class GrantKind(StrEnum):
    CIRCLE = "trusted-circle"
    PRESENCE = "presence-password"
    EMERGENCY = "emergency"


@dataclass(frozen=True)
class GrantRule:
    kind: GrantKind
    duration: timedelta | None  # from when it is given; None: no fixed length (the circle's access period decides)
    given: str  # the audit wording: the reason of the command that gives it (the outcome, the audit entry)
    notice: str | None = None  # the notice template the patient gets when it is given (notify's template id)
    alert: bool = False  # that notice also goes to her own channel (the e-mail or SMS she chose)
    ended_notice: str = "grant-expired"  # the notice when the sweeper ends it
    refusable: bool = False  # the patient's emergency setting ("refused") turns it off
    watched: bool = False  # giving it is counted per professional for the operators (`emergency.frequent`)
    reason: str = ""  # what a decision that lets a professional in with it says (default: the kind's name)

    def ends(self, at: datetime) -> datetime | None:
        """When a grant of this kind given at `at` ends (None: no end of its own)."""
        return None if self.duration is None else at + self.duration

    @property
    def reads_as(self) -> str:
        return self.reason or self.kind.value


GRANTS: tuple[GrantRule, ...] = (  # precedence: a decision reads the first kind in force
    GrantRule(GrantKind.CIRCLE, None, "added to the trusted circle"),
    GrantRule(GrantKind.PRESENCE, timedelta(hours=24), "presence password accepted", notice="presence-password-used"),
    GrantRule(GrantKind.EMERGENCY, timedelta(hours=12), "emergency access granted", notice="emergency-access-used",
              alert=True, refusable=True, watched=True),
)
RULES: dict[GrantKind, GrantRule] = {rule.kind: rule for rule in GRANTS}


def rule(kind: GrantKind) -> GrantRule:
    return RULES[kind]
