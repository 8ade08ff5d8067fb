"""The console's web edge (FastAPI): `sign_in.py` (the pages, logging in and out), `operations.py` (the JSON API
for logged-in operators), `common.py` (what every route shares: cookies, the session and CSRF checks, bodies),
`pages.py` (the HTML files under ../static with their slots, Plotly's stylesheets), `guard.py` (the Host allow-list
and security headers, as ASGI middleware)."""
