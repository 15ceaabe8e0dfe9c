"""The log: one SQLite file (sqlite-utils), migrations, one writer, read queries."""

from workbench.store.db import StoreError, open_db, open_for_reading
from workbench.store.writer import Recorder, Store

__all__ = ["Recorder", "Store", "StoreError", "open_db", "open_for_reading"]
