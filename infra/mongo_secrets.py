"""`python -m infra.mongo_secrets >> .env`: random passwords for compose's MongoDB (its root user and one user per
service), printed once as .env lines; nothing is kept anywhere else."""

from __future__ import annotations

import secrets

from .ferretdb import MONGO_SERVICES


def lines() -> list[str]:
    names = ["ROOT", *(s.upper() for s in MONGO_SERVICES)]
    return [f"DSP_MONGO_{'ROOT_PASSWORD' if n == 'ROOT' else 'PASSWORD_' + n}={secrets.token_urlsafe(24)}"
            for n in names]


if __name__ == "__main__":
    print("\n".join(lines()))
