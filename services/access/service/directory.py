"""access's directory reads, the use cases behind `api/directory.py` (the gateway calls them), so that nobody else
opens access's database:

- `POST /v1/professionals/search`: active professionals by name prefix (case and accents ignored), by family then
  given name, cursor-paged — to add one to the trusted circle;
- `POST /v1/professionals/get`: one professional, listed or not, active or not — the professional login's check;
- `POST /v1/persons/lookup`: the name of the adult a patient is about to add as DSP assistant ("Numéro assuré" →
  the name shown → confirm). A matricule is easy to guess (a birth date and three digits), so the answer says as
  little as it can: a registered adult's name, and one uniform 404 for anyone else (not registered, a minor) —
  the same body, the same single lookup; the gateway limits lookups per session.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from schemas.access import (
    PersonLookup,
    PersonV1,
    ProfessionalGet,
    ProfessionalPage,
    ProfessionalSearch,
    ProfessionalStatusV1,
    ProfessionalV1,
)
from services.kit.paging import BadCursor, decode_cursor, encode_cursor

from ..domain import directory
from ..domain.planner import is_adult
from ..store import Store
from .answers import Answer, bad_cursor, ok
from .effects import ms
from .view import AccessView

NOT_FOUND: Answer = (404, {"detail": "no registered adult with this matricule"})


def _after(cursor: str | None) -> tuple[str, str, str] | None:
    if cursor is None:
        return None
    tag, *key = decode_cursor(cursor, 4)
    if tag != "professionals" or not all(isinstance(part, str) for part in key):
        raise BadCursor("cursor is not one this API gave out")
    return key[0], key[1], key[2]


class Directory:
    def __init__(self, store: Store, view: AccessView, clock: Callable[[], datetime]) -> None:
        self.store, self.view, self.clock = store, view, clock

    async def search(self, body: ProfessionalSearch) -> Answer:
        try:
            after = _after(body.cursor)
        except BadCursor as exc:
            return bad_cursor(exc)
        found = directory.search(list(self.view.directory.values()), body.q, after, body.limit + 1)
        page = found[:body.limit]
        items = [ProfessionalV1(professional_id=c.professional_id, given_name=c.given_name,
                                family_name=c.family_name, name=c.name, profession=c.profession,
                                specialty=c.specialty, practice_id=c.practice_id) for c in page]
        more = len(found) > body.limit
        return ok(ProfessionalPage(items=items, next_cursor=encode_cursor("professionals", *page[-1].sort_key())
                                   if more else None))

    async def get(self, body: ProfessionalGet) -> Answer:
        card = self.view.card(body.professional_id)
        if card is None:
            return ok(ProfessionalStatusV1(professional_id=body.professional_id, listed=False, active=False,
                                           name=None, profession=None, specialty=None))
        return ok(ProfessionalStatusV1(professional_id=card.professional_id, listed=True, active=card.active,
                                       name=card.name, profession=card.profession, specialty=card.specialty))

    async def lookup(self, body: PersonLookup) -> Answer:
        if body.actor.kind != "patient":
            return 403, {"detail": "only a person adds a DSP assistant"}
        person = await self.store.person(body.matricule)
        if person is None or not is_adult(body.matricule, ms(self.clock())):
            return NOT_FOUND
        return ok(PersonV1(matricule=body.matricule, name=directory.person_name(person)))
