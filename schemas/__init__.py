"""Shared event contracts (pydantic v2). Only additive changes within a topic version."""
