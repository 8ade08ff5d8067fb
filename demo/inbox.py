"""The demo person's letterbox and mailbox under `make run`, as she would read them: the activation letter (a PDF
in the letters folder, with its code) and the one-time codes e-mailed to her.

python -m demo.inbox [--person N | --child K] — N: the demo registry's person (default: the one `make run` invites,
Anne Muller); K: her child 0 (Léa) or 1 (Tom), whose letters come to the same address: a parent activates the child's
account with it, then adds herself as the child's DSP assistant (Accompagnateurs) to reach it from her own login.
"""

from __future__ import annotations

import argparse
import mailbox
import re
from pathlib import Path

from pypdf import PdfReader

from demo.laboratory import CHILDREN, DEMO_PERSON, PATIENTS, child, person
from infra.local import default_state_dir

CODE = re.compile(r"\b[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b")
ONE_TIME = re.compile(rb"\b(\d{6})\b")


def letters(folder: Path, name: str, address_line: str) -> list[tuple[Path, str]]:
    """Her letters (her name above her address: her children's go to the same address), newest last, with their
    text."""
    found = []
    for pdf in sorted(folder.glob("*.pdf"), key=lambda p: p.stat().st_mtime):
        text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
        if name in text and address_line in text:
            found.append((pdf, text))
    return found


def one_time_codes(maildir: Path, to: str) -> list[str]:
    box = mailbox.Maildir(str(maildir), create=False)
    messages = sorted((m for m in box if m["To"] == to), key=lambda m: m.get_date())
    return [f.group(1).decode() for m in messages if (f := ONE_TIME.search(m.get_payload(decode=True) or b""))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--person", type=int, default=PATIENTS.index(DEMO_PERSON))
    parser.add_argument("--child", type=int, choices=range(len(CHILDREN)), default=None)
    args = parser.parse_args()
    who = person(PATIENTS[args.person], args.person) if args.child is None else child(*CHILDREN[args.child])
    state = default_state_dir()
    print(f"{who['given_name']} {who['family_name']}, matricule {who['matricule']} (born {who['birth_date']}), "
          f"e-mail {who['email']}")
    mine = letters(state / "letters", f"{who['given_name']} {who['family_name']}", who["postal_address"]["line1"])
    activation = [(p, t) for p, t in mine if CODE.search(t)]
    if activation:
        path, text = activation[-1]
        print(f"activation letter: {path}\nactivation code on it: {CODE.findall(text)[-1]}")
    else:
        print(f"no activation letter yet in {state / 'letters'} (notify writes it a few seconds after make run starts)")
    codes = one_time_codes(state / "maildir", who["email"]) if (state / "maildir").exists() else []
    print(f"latest one-time code e-mailed: {codes[-1]}" if codes else "no one-time code e-mailed yet")


if __name__ == "__main__":
    main()
