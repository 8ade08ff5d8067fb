"""The docs site's table of the portal API, made from the gateway's OpenAPI document (so it cannot drift).

`python -m services.gateway.api_table` rewrites the table between `docs/portal-api.md`'s `<!-- portal-api:begin -->`
and `<!-- portal-api:end -->` markers (as `python -m infra.docs_site` does with the other generated pages); `--check`
exits 1 if the page's table is not the one the code makes (a unit test runs the check). One row per route: method
and path, its summary, who may call it, and its success answer.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- portal-api:begin -->", "<!-- portal-api:end -->"
PAGE = Path(__file__).resolve().parents[2] / "docs" / "portal-api.md"
METHODS = ("get", "post", "put", "patch", "delete")


def openapi() -> dict[str, Any]:
    """The gateway's OpenAPI document, built without connecting to anything (a throwaway key if none is set)."""
    from services.kit.servicetokens import new_key

    from .app import GatewaySettings, create_app

    env = {"DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24), "DSP_SERVICE_KEY": new_key()[0]}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({k: v for k, v in env.items() if not os.environ.get(k)})
    try:
        doc: dict[str, Any] = create_app(GatewaySettings()).openapi()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
    return doc


def _caller(path: str, op: dict[str, Any]) -> str:
    params = {p.get("name") for p in op.get("parameters", [])}
    if path.startswith("/v1/pro/") and path != "/v1/pro/login":
        return "professional (`dsp_pro`)"
    if path.startswith("/v1/me/"):
        return "patient (`dsp_session`), or an assistant with `X-DSP-Patient`" if "X-DSP-Patient" in params \
            else "patient (`dsp_session`)"
    if "dsp_session" in params:
        return "patient (`dsp_session`)"
    return "anyone (rate-limited)"


def _answer(op: dict[str, Any]) -> str:
    for status, response in sorted(op.get("responses", {}).items()):
        if status.startswith("2"):
            content = response.get("content", {})
            for media, body in content.items():
                schema = body.get("schema", {})
                ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
                name = ref.rsplit("/", 1)[-1] if ref else schema.get("type", media)
                shown = f"[{name}]" if schema.get("type") == "array" else name
                return f"{status} `{shown}`" if media.endswith("json") else f"{status} {media}"
            return str(status)
    return ""


def table(doc: dict[str, Any]) -> str:
    rows = ["| route | what | who | answer |", "|---|---|---|---|"]
    for path, item in sorted(doc["paths"].items()):
        for method in METHODS:
            if method in item:
                op = item[method]
                summary = str(op.get("summary", "")).replace("|", "\\|")
                rows.append(f"| `{method.upper()} {path}` | {summary} | {_caller(path, op)} | {_answer(op)} |")
    return "\n".join(rows)


def rewrite(text: str, made: str) -> str:
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise SystemExit(f"{PAGE.name} has no {BEGIN} ... {END} markers")
    return f"{head}{BEGIN}\n{made}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/portal-api.md's table is out of date")
    args = parser.parse_args(argv)
    text = PAGE.read_text()
    wanted = rewrite(text, table(openapi()))
    if args.check:
        if wanted != text:
            print("docs/portal-api.md's table is out of date: run python -m services.gateway.api_table")
            return 1
        return 0
    PAGE.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
