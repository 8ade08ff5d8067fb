"""`python -m services.access.signing`: print a new audit signing key as an environment line (compose's `.env`,
`DSP_ACCESS_AUDIT_SIGNING_KEY`). The signing itself is `domain/signing.py`."""

from services.kit.servicetokens import new_key


def main() -> int:
    print(f"DSP_ACCESS_AUDIT_SIGNING_KEY={new_key()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
