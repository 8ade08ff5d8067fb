"""`Answer`: a step as the portal gets it over activation's HTTP API, with what only HTTP may carry (tokens, never
on Kafka)."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.activation import StepAnswer

from ..domain.flow import Step


@dataclass
class Answer:
    """A Step as the portal gets it, with what only HTTP may carry (tokens)."""

    step: Step
    challenge_required: bool = False
    retry_after_s: int | None = None
    token: str | None = None
    device_token: str | None = None

    def public(self) -> StepAnswer:
        return StepAnswer(accepted=self.step.accepted, reason=self.step.reason, next_step=self.step.next_step,
                          details=self.step.details, challenge_required=self.challenge_required,
                          retry_after_s=self.retry_after_s, token=self.token, device_token=self.device_token)
