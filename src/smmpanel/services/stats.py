"""What the panel reports about itself: figures for ``/metrics`` and the
readiness check. Reads only; each a few aggregate queries."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.upstream_state import UpstreamState
from ..store import calls as calls_store, stats as store
from ..store.migrate import SCHEMA_HEAD
from .panel import Panel


@dataclass(frozen=True)
class PanelFigures:
    orders_by_status: dict[str, int]
    orders_by_upstream_state: dict[str, int]
    needs_attention: int  # orders and refills an operator must resolve
    ledger_entries: dict[str, int]  # per kind
    ledger_micros: dict[str, int]  # per kind, signed sum
    balances_micros: int
    upstream_calls: dict[tuple[str, str, str], int]  # (provider, action, outcome) -> requests, all workers ever


async def figures(panel: Panel) -> PanelFigures:
    db = panel.db
    by_state = await store.orders_by_upstream_state(db)
    ledger = await store.ledger_totals(db)
    return PanelFigures(
        orders_by_status=await store.orders_by_status(db),
        orders_by_upstream_state=by_state,
        needs_attention=by_state.get(UpstreamState.NEEDS_ATTENTION.value, 0) + await store.refills_needing_attention(db),
        ledger_entries={kind: n for kind, (n, _) in ledger.items()},
        ledger_micros={kind: total for kind, (_, total) in ledger.items()},
        balances_micros=await store.balances_total(db),
        upstream_calls=await calls_store.calls_by_provider(db),
    )


@dataclass(frozen=True)
class Readiness:
    ready: bool
    database: str  # "ok" or why not
    schema: str | None  # the revision found
    schema_expected: str


async def readiness(panel: Panel) -> Readiness:
    try:
        revision = await store.schema_revision(panel.db)
    except Exception as exc:  # unreachable, or no schema at all: not ready, and say which
        return Readiness(False, type(exc).__name__, None, SCHEMA_HEAD)
    return Readiness(revision == SCHEMA_HEAD, "ok", revision, SCHEMA_HEAD)
