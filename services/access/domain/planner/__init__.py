"""What a command does to a patient's access, or why it is refused. Pure: facts and `now` come in.

The worker looks up the facts (is the professional listed, is the assistant an adult in the registry, who are the
patient's legal representatives, did access's API keep a presence password's hash or check a typed one for this
command, how the audit chain verifies) and stores the outcome; every rule — and every question about a command's
kind — lives in this package: `plans` (the shared types), `routing` (`plan`, routing each command to its rule),
`circle` (circle, referring GP, blocks, grant revocations and ends), `assistants` (assistants and the age rules),
`presence_audit` (presence passwords, break-the-glass, the audit check) and `kinds` (the questions about a
command's kind). Import from here.
"""

from .assistants import MINOR_CONFIRMS, NOT_A_REPRESENTATIVE, is_adult, majority
from .kinds import (
    breaks_the_glass,
    ended_grant,
    justification,
    keeps_sealed_password,
    needs_audit_check,
    needs_presence_check,
    needs_presence_hash,
    sends_password,
)
from .plans import AuditCheck, Facts, Plan, refuse
from .presence_audit import PAUSED, guesses_notice, presence_try
from .routing import plan

__all__ = [
    "MINOR_CONFIRMS",
    "NOT_A_REPRESENTATIVE",
    "PAUSED",
    "AuditCheck",
    "Facts",
    "Plan",
    "breaks_the_glass",
    "ended_grant",
    "guesses_notice",
    "is_adult",
    "justification",
    "keeps_sealed_password",
    "majority",
    "needs_audit_check",
    "needs_presence_check",
    "needs_presence_hash",
    "plan",
    "presence_try",
    "refuse",
    "sends_password",
]
