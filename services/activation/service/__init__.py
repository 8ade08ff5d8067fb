"""activation's use cases, one module each: `letters.py` (a registry person's letter, a new generation's),
`start.py` (the letter's code), `steps.py` (set-password, choose-channel, verify-otp, LuxTrust, confirm),
`login.py` (password -> one-time code -> session, or LuxTrust), `sessions.py` (the session check, logging out),
`password.py` (change, forgot), `helpdesk.py` (the helpdesk's commands), `challenges.py` (captcha, ALTCHA),
`stats.py` (the console's counters). What they share: `guard.py` (guessable secrets: the challenge, the delay,
the owner told), `otp.py` (one-time codes' keyed hashes), `tokens.py` (browser tokens), `effects.py` (notices,
outcomes, events), `answer.py` (what HTTP carries back), `luxtrust.py` (the LuxTrust verifier's Protocol).

Each use case loads the account, checks the secrets it is given (argon2, keyed hashes, LuxTrust) and passes the
results as facts to the pure steps (`domain/flow.py`), saves, then runs the effects."""

from .effects import NS

__all__ = ["NS"]  # the ids namespace: the tests find a letter's file by the notify request id made from it
