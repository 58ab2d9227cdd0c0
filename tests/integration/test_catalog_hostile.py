"""Issue 7, defects 6 and 8: a hostile upstream catalog, imported and synced on SQLite and PostgreSQL.

One bad entry (negative rate, duplicate id, absurd or out-of-range numbers, a rate
that rounds to 0) is skipped with its reason; the rest imports; nothing is sold free.
"""

from __future__ import annotations

import functools
from decimal import Decimal

import pytest

from smmpanel.client import ProviderClient
from smmpanel.services import audit, catalog, providers
from smmpanel.services.providers import client_for
from smmpanel.simulator import Simulator, create_simulator
from smmpanel.store import catalog as catalog_store

pytestmark = pytest.mark.anyio

ALL_CATALOG_LIES = ("catalog_negative_rate", "catalog_duplicate_id", "catalog_huge_rate", "catalog_huge_max",
                    "catalog_tiny_rate", "catalog_absurd_numbers")


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMMPANEL_SECRET", "catalog-hostile-test-secret")


async def register(panel, sim: Simulator, fx: str = "1") -> functools.partial:
    await providers.add_provider(panel, "up", "https://upstream.example/api/v2", sim.key, encoding="auto",
                                 fx=Decimal(fx), make_client=functools.partial(ProviderClient,
                                                                               transport=sim.mock_transport()))
    return functools.partial(client_for, transport=sim.mock_transport())


async def test_bad_entries_are_skipped_with_their_reason_and_the_rest_imports(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        sim = create_simulator("68smm")
        factory = await register(panel, sim)
        for mode in ALL_CATALOG_LIES:
            sim.enable(mode)
        imported, skipped = await providers.import_services(panel, "up", markup_percent=Decimal(25),
                                                            make_client=factory)
        assert sorted(i.provider_service for i in imported) == ["2", "3"]
        reasons = dict(skipped)
        assert set(reasons) == {"1", "9001", "9002", "9003", "9004", "9005", "9006", "9007"}
        assert reasons["1"] == "service id listed 2 times upstream"
        assert reasons["9001"] == "negative rate -1"
        assert reasons["9002"].startswith("protocol error: rate 1E+30 is past the bound")
        assert reasons["9003"].startswith("protocol error: max 100000000000000000000 is past the bound")
        assert reasons["9004"] == ("rate 0.0000001 x fx 1 with markup 25% rounds to 0 micro-units: "
                                   "it would sell for free")
        for sid, field in (("9005", "rate"), ("9006", "min"), ("9007", "max")):
            assert reasons[sid].startswith(f"protocol error: {field} 1E+99999999 is past the bound")
        # Exactly the good services are for sale, at their exact price; the ledger is untouched.
        rows = [await catalog_store.service_by_id(panel.db, i.service) for i in imported]
        assert [(r["provider_service"], r["rate_micros"], r["enabled"]) for r in rows] == [
            ("2", 10_000_000, True), ("3", 625_000, True)]
        assert await audit.run(panel) == []


async def test_only_names_why_a_wanted_entry_was_not_imported(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        sim = create_simulator("like3s")  # bare JSON numbers: -1, 1e30 and 0.0000001 as number tokens
        factory = await register(panel, sim, fx="0.00004")
        sim.enable("catalog_negative_rate")
        sim.enable("catalog_tiny_rate")
        imported, skipped = await providers.import_services(panel, "up", only=["101", "9001", "9002", "555"],
                                                            make_client=factory)
        assert [i.provider_service for i in imported] == ["101"]
        assert [sid for sid, _ in skipped] == ["9001", "9002", "555"]
        assert "rounds to 0" in dict(skipped)["9002"] and dict(skipped)["555"] == "not offered upstream"


async def test_a_vnd_rate_that_rounds_to_zero_in_usd_is_never_sold_free(db_url, panel_factory):
    """Defect 8: 0.0000001 upstream becomes 0 micro-USD: refused, while a small but real price imports."""
    async with panel_factory(db_url) as panel:
        sim = create_simulator("like3s")
        factory = await register(panel, sim, fx="0.00004")
        sim.enable("catalog_tiny_rate")
        imported, skipped = await providers.import_services(panel, "up", make_client=factory)
        assert all(i.rate_micros > 0 for i in imported) and {i.provider_service for i in imported} == {"101", "102"}
        assert [sid for sid, _ in skipped] == ["9001"]
        enabled = [s for s in await catalog.all_services(panel) if s["enabled"]]
        assert enabled and all(s["rate_micros"] > 0 for s in enabled)


async def test_sync_keeps_a_service_whose_entry_turned_bad_and_refreshes_the_rest(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        sim = create_simulator("68smm")
        factory = await register(panel, sim)
        imported, skipped = await providers.import_services(panel, "up", make_client=factory)
        assert skipped == []
        ours = {i.provider_service: i.service for i in imported}
        sim.enable("catalog_duplicate_id")  # service 1 is now listed twice, at two prices
        sim.enable("catalog_absurd_numbers")
        report = await providers.sync_services(panel, "up", make_client=factory)
        assert sorted(report.updated) == sorted([ours["2"], ours["3"]])
        assert report.disabled == []  # an ambiguous entry is not "gone upstream"
        assert [entry.provider_service for entry in report.skipped] == ["9001", "9002", "9003", "1"]
        row = await catalog_store.service_by_id(panel.db, ours["1"])
        assert row["enabled"] and row["rate_micros"] == 900_000  # its terms as imported
        sim.clear_modes()
        report = await providers.sync_services(panel, "up", make_client=factory)
        assert report.skipped == [] and sorted(report.updated) == sorted(ours.values())


async def test_an_upstream_without_a_usable_services_reply_is_a_clear_error(db_url, panel_factory):
    from smmpanel.api.messages import message
    from smmpanel.domain.errors import UpstreamFailed

    async with panel_factory(db_url) as panel:
        sim = create_simulator("68smm")
        factory = await register(panel, sim)
        sim.inject("services", "garbled", count=2)
        with pytest.raises(UpstreamFailed) as caught:
            await providers.import_services(panel, "up", make_client=factory)
        assert message(caught.value).startswith("Provider up did not answer services: unknown_outcome: unreadable")
        with pytest.raises(UpstreamFailed):
            await providers.sync_services(panel, "up", make_client=factory)
        assert await catalog.all_services(panel) == []
