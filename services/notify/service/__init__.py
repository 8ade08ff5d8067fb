"""notify's use cases, one module each: `delivery.py` (deliver a notification request once, on its channel),
`documents.py` (a document event becomes an in-app notice), `contacts.py` (keep where a person is reached: the
registry's facts, the channel chosen at activation), `inbox.py` (a person's notification list, marking read),
`stats.py` (the console's counters). `channels.py` holds the delivery adapters (SMTP, the SMS gateway, the PDF
letter printer) and the Protocols the use cases see them through.

Each use case loads what it needs from the store (`store.protocol.Store`), asks the domain (which channel, which
notice, which words), saves, then runs the effects (send, publish)."""
