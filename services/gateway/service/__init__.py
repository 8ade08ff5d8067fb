"""The gateway's use cases: what a route does when it takes more than one call (a command sent and its outcome
awaited, a decision then a read, two services' answers put together). One module per use case; each takes the
request's `Context` (its typed clients and its bus) and answers a `schemas.portal*` model. Routes call one of them,
or one typed client."""
