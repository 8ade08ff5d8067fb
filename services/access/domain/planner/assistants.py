"""The rules of the commands about DSP assistants: adding one (an adult in the national registry, never the
patient; a minor's assistant only one of the minor's legal representatives, whoever asks, and that link ends at
the minor's majority), removing one, and confirming a link past majority — only by the patient herself, once 18:
a link that ended at her majority stays on her record as ended (no rights) until she confirms it (it then has no
end) or removes it. `majority` and `is_adult` are the age rules the directory and reads use too."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from schemas.access import AssistantCommand
from schemas.fields import matricule_birth_date, rfc3339

from .. import state as ev
from ..decisions import Actor, PatientAccess
from .plans import Facts, Plan, refuse

NOT_A_REPRESENTATIVE = "a minor's DSP assistant must be one of their legal representatives in the national registry"
MINOR_CONFIRMS = "only the patient, once 18, can keep an assistant link past majority"


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
    if is_adult(cmd.patient, now):
        return Plan(True, "assistant added", [ev.AssistantLinked(who, now, None)], [("assistant-added", {})])
    if who not in facts.patient_guardians:  # whoever asks: the minor's own account, a parent, anyone
        return refuse(NOT_A_REPRESENTATIVE)
    ends = majority(cmd.patient)
    return Plan(True, "assistant added", [ev.AssistantLinked(who, now, ends)], [("assistant-added", {})],
                {"link_ends_at": rfc3339(ends)})


def _confirm_assistant(cmd: AssistantCommand, access: PatientAccess, actor: Actor, now: datetime) -> Plan:
    """The adult patient keeps a link made while she was a minor: it no longer ends (restored if it has ended)."""
    if actor.kind != "patient" or actor.id != cmd.patient:
        return refuse("only the patient themselves confirms an assistant link")
    if not is_adult(cmd.patient, now):
        return refuse(MINOR_CONFIRMS)
    if cmd.assistant not in access.assistants:
        return refuse("not a DSP assistant of this record")
    if access.assistants[cmd.assistant] is None:
        return refuse("the assistant link has no end: there is nothing to confirm")
    return Plan(True, "assistant link confirmed", [ev.AssistantLinked(cmd.assistant, now, None)])
