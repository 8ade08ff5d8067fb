"""The docs site's portal API table (docs/portal-api.md) is the one the gateway's OpenAPI document makes (it cannot
drift)."""

from __future__ import annotations

from services.gateway import api_table


def test_the_docs_page_lists_every_route_of_the_openapi_document() -> None:
    doc = api_table.openapi()
    made = api_table.table(doc)
    routes = {f"`{m.upper()} {p}`" for p, item in doc["paths"].items() for m in api_table.METHODS if m in item}
    assert routes and all(route in made for route in routes)
    assert api_table.main(["--check"]) == 0, "run: python -m services.gateway.api_table"


def test_a_stale_table_is_found() -> None:
    text = f"intro\n{api_table.BEGIN}\n| old |\n{api_table.END}\nrest"
    fresh = api_table.rewrite(text, "| new |")
    assert fresh == f"intro\n{api_table.BEGIN}\n| new |\n{api_table.END}\nrest"
    assert api_table.rewrite(fresh, "| new |") == fresh
