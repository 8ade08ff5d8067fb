"""The rules of the commands about DSP assistants: adding one (an adult in the national registry, never the
patient; a minor's link ends at their majority), removing one, and the patient confirming a link in the year
before they turn 18. `majority` and `is_adult` are the age rules the directory and reads use too."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from schemas.access import AssistantCommand
from schemas.fields import matricule_birth_date, rfc3339

from .. import state as ev
from ..decisions import Actor, PatientAccess
from .plans import Facts, Plan, refuse

CONFIRM_WINDOW = timedelta(days=365)  # a link to a minor can be confirmed in the year before majority


def majority(matricule: str) -> datetime:
    """The instant a person turns 18 (UTC midnight of the birthday; 29 February -> 1 March)."""
    born = matricule_birth_date(matricule)
    try:
        day = born.replace(year=born.year + 18)
    except ValueError:
        day = date(born.year + 18, 3, 1)
    return datetime.combine(day, time(), tzinfo=UTC)


def is_adult(matricule: str, now: datetime) -> bool:
    return now >= majority(matricule)


def _assistant(cmd: AssistantCommand, access: PatientAccess, facts: Facts, now: datetime) -> Plan:
    who = cmd.assistant
    if cmd.command == "remove-assistant":
        if who not in access.assistants:
            return refuse("not a DSP assistant of this record")
        return Plan(True, "assistant removed", [ev.AssistantUnlinked(who, now)])
    if who == cmd.patient:
        return refuse("a patient cannot be their own DSP assistant")
    if not facts.assistant_known:
        return refuse("the assistant is not in the national registry")
    if not is_adult(who, now):
        return refuse("a DSP assistant must be an adult")
    ends = None if is_adult(cmd.patient, now) else majority(cmd.patient)
    details = {"link_ends_at": rfc3339(ends)} if ends else {}
    return Plan(True, "assistant added", [ev.AssistantLinked(who, now, ends)], [("assistant-added", {})], details)


def _confirm_assistant(cmd: AssistantCommand, access: PatientAccess, actor: Actor, now: datetime) -> Plan:
    if actor.kind != "patient" or actor.id != cmd.patient:
        return refuse("only the patient themselves confirms an assistant link")
    if now < majority(cmd.patient) - CONFIRM_WINDOW:
        return refuse("a minor's assistant link can be confirmed from the year before the patient turns 18")
    if cmd.assistant not in access.assistants:
        return refuse("not a DSP assistant of this record")
    return Plan(True, "assistant link confirmed", [ev.AssistantLinked(cmd.assistant, now, None)])
