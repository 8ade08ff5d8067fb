"""Questions the worker asks about a command's kind: which facts the planner needs for it (an audit check, the
kept presence-password hash, the API's check of a typed one), and which effects follow it (a password letter, a
sealed password kept, a justification audited, a break of the glass counted, a grant ended). The service calls
these, never `isinstance`."""

from __future__ import annotations

from schemas.access import (
    AnyCommand,
    BreakTheGlass,
    EndGrant,
    PresencePasswordCommand,
    RedeemPresencePassword,
    VerifyAuditTrail,
)


def needs_audit_check(cmd: AnyCommand) -> bool:
    return isinstance(cmd, VerifyAuditTrail)


def needs_presence_hash(cmd: AnyCommand) -> bool:
    """The command makes a presence password the patient's: the planner is told which hash access's API kept."""
    return isinstance(cmd, PresencePasswordCommand)


def needs_presence_check(cmd: AnyCommand) -> bool:
    """The command redeems a presence password: the planner is told whether access's API checked it."""
    return isinstance(cmd, RedeemPresencePassword)


def sends_password(cmd: AnyCommand) -> str | None:
    """The channel a generated presence password goes out on, if the command posts one."""
    return cmd.delivery if isinstance(cmd, PresencePasswordCommand) and cmd.delivery != "none" else None


def keeps_sealed_password(cmd: AnyCommand) -> bool:
    return isinstance(cmd, PresencePasswordCommand)


def breaks_the_glass(cmd: AnyCommand) -> bool:
    """An emergency access. What the operators' watch counts is a plan's `watched` (the grant-kind table), kept with
    the command's effects; this answers for effects stored before they said (a redelivery after an upgrade)."""
    return isinstance(cmd, BreakTheGlass)


def justification(cmd: AnyCommand) -> str:
    return cmd.justification if isinstance(cmd, BreakTheGlass) else ""


def ended_grant(cmd: AnyCommand) -> EndGrant | None:
    return cmd if isinstance(cmd, EndGrant) else None
