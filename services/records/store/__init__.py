"""records' store: the only package touching its collections (`mongo.RecordsStore`, behind `protocol.Store`)."""

from .mongo import RecordsStore
from .protocol import Store
from .shape import loaded, stored

__all__ = ["RecordsStore", "Store", "loaded", "stored"]
