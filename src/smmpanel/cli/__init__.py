"""The operator's command line: ``smmpanel``.

Every command takes ``--json`` and then prints exactly one JSON document
(scripts depend on the names and options here). Commands translate only: the
work is done by ``smmpanel.services``. Every command first brings the schema
up to date (Alembic; a no-op when it already is).
"""

from . import accounts, catalog, maintenance, orders, panel, payments, upstream  # each registers its commands on main
from .base import main

__all__ = ["main"]
