"""The gateway's own database, `<prefix>_gateway`: the rate limits' counters (`counters`) and professionals'
used assertions and sessions (`sessions`). The only gateway modules that import pymongo (import-linter)."""
