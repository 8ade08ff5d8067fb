"""records' store: the only package touching its collections (`mongo.RecordsStore`, behind `protocol.Store`)."""

from .mongo import RecordsStore, insert_new
from .protocol import Store
from .shape import loaded, stored

__all__ = ["RecordsStore", "Store", "insert_new", "loaded", "stored"]
