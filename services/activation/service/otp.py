"""One-time codes as an account keeps them: an HMAC under a key derived from the code key, bound to the matricule,
the slot and the second the code was sent (5 minutes, 5 tries: no slow hash needed). The pure steps get a fresh
code with its hash (`new`), or whether a typed code matched (`matches`); they decide the rest."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from services.kit.hashing import keyed, same_keyed

from ..domain import rules
from ..domain.account import Account, OtpSlot
from ..domain.flow import NewOtp


class OneTimeCodes:
    def __init__(self, code_key: bytes) -> None:
        self.key = hmac.new(code_key, b"dsp-activation-one-time-codes", hashlib.sha256).digest()

    def new(self, matricule: str, slot: OtpSlot, now: datetime) -> NewOtp:
        """A fresh code for `slot`, to be sent at `now`, and its keyed hash."""
        code = rules.new_otp()
        return NewOtp(code, keyed(self.key, matricule, slot, str(int(now.timestamp())), code))

    def matches(self, acc: Account, slot: OtpSlot, typed: str | None) -> bool:
        """Whether `typed` is the code waiting in `slot` (compared in constant time; whether it may be used at all,
        expired or spent, is the step's to say)."""
        otp = acc.get(slot)
        if not otp:
            return False
        return same_keyed(otp["hash"], self.key, acc["_id"], slot, str(int(otp["sent_at"].timestamp())),
                          (typed or "").strip())
