"""notify's pure domain: `templates.py` (the wording of every message in French, German and English, and what
of it is kept), `contacts.py` (the channel rules: where a person is reached, on which channel a request goes out,
a letter's address), `notices.py` (which in-app notice a document event deserves, in which language),
`delivery.py` (the delivery event of a request), `listing.py` (the notification list's order, cursor and item).
Facts and `now` come in, a decision comes out; no I/O."""
