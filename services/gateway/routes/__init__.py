"""The portal API's routes, one module per feature: decode, call one use case (`service/`) or one typed client
(`clients/`), answer. Whose DSP a route acts on is resolved once, by its dependency (`context.ActingFor`,
`ReadingFor`, `ReadingDocument`; `professional.Professional` for a professional's session)."""
