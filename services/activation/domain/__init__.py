"""activation's pure domain: `account.py` (the account and the person as activation keeps them), `rules.py` (the
codes, the password policy, the guards of guessable secrets, sessions' lifetimes, the order of the steps) and
`flow.py` (the activation and login steps). Facts and `now` come in, a step comes out; no I/O."""
