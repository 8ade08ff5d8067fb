"""The DSP assistants page (services/gateway/web/templates/assistants.html) says the minors' rule, and shows a link that
ended at majority as ended, with "Keep" for the patient herself only (access refuses anyone else: the page does not
offer it to a parent acting for her). Rendered with the portal's own Jinja environment, in each language."""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway.web.web import User, environment

NOW = "2033-07-01T09:00:00.000Z"
PARENT, FRIEND = "1984030901207", "1979080200512"


def render(lang: str, user: User, *assistants: dict[str, Any]) -> str:
    state = {"assistants": list(assistants)}
    return environment(lang).get_template("assistants.html").render(
        csrf="t", path="/assistants", user=user, state=state, now=NOW, fields={})


def link(matricule: str, ends_at: str | None) -> dict[str, Any]:
    return {"matricule": matricule, "name": "Marc Schmit", "kind": "designated-assistant", "since": None,
            "ends_at": ends_at}


@pytest.mark.parametrize(("lang", "ended", "keep", "rule"), [
    ("en", "Ended on", "Keep", "legal representatives"),
    ("fr", "Terminé le", "Garder", "représentants légaux"),
    ("de", "Beendet am", "Behalten", "gesetzlichen Vertreter")])
def test_a_link_ended_at_majority_is_shown_ended_and_only_the_patient_is_offered_to_keep_it(
        lang: str, ended: str, keep: str, rule: str) -> None:
    page = render(lang, User(name="Léa Schmit"), link(PARENT, "2033-06-01T00:00:00.000Z"), link(FRIEND, None))
    assert rule in page and ended in page
    assert 'id="keep-assistant-1"' in page and f">{keep}<" in page and 'action="/assistants/confirm"' in page
    assert 'id="keep-assistant-2"' not in page  # a link without an end has nothing to keep
    acting = render(lang, User(name="", acting_name="Léa Schmit"), link(PARENT, "2033-06-01T00:00:00.000Z"))
    assert ended in acting and "keep-assistant" not in acting  # a parent acting for her is not offered it


def test_a_minors_running_link_shows_its_end_and_no_keep() -> None:
    page = render("en", User(name="Tom Schmit"), link(PARENT, "2037-09-03T00:00:00.000Z"))
    assert "Ended on" not in page and "keep-assistant" not in page and 'id="remove-assistant-1"' in page
