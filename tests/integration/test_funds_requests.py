"""Funds requests (the manual payment method) on both engines: a request,
an operator's approval credits exactly once, even when approvals race."""

import asyncio
from decimal import Decimal

import pytest

from smmpanel.domain.errors import AlreadyDecided, InvalidField, NotFound
from smmpanel.services import accounts, audit, funds
from smmpanel.services.principal import Customer

pytestmark = pytest.mark.anyio


async def _balance(panel, name):
    return (await accounts.user_named(panel, name))["balance_micros"]


async def _deposits(panel, customer):
    return await panel.db.fetch(
        "SELECT amount_micros, method, actor FROM ledger WHERE user_id = $1 AND kind = 'deposit' ORDER BY id",
        customer.ref.value,
    )


async def test_approval_credits_the_requested_amount_once(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        alice = Customer.from_user_id((await accounts.add_user(panel, "alice", actor="cli"))[0])
        request_id = await funds.request_funds(panel, alice, Decimal("12.5"), "  FT2026 from VCB ")
        mine = await funds.customer_requests(panel, alice)
        assert [(r["id"], r["status"], r["amount_micros"], r["reference"]) for r in mine] == [
            (request_id, "pending", 12_500_000, "FT2026 from VCB")
        ]
        assert [r["id"] for r in await funds.pending_requests(panel)] == [request_id]

        assert await funds.approve(panel, request_id, "op-anna") == 12_500_000
        assert await _balance(panel, "alice") == 12_500_000
        with pytest.raises(AlreadyDecided) as again:
            await funds.approve(panel, request_id, "op-anna")
        assert again.value.params["status"] == "approved"
        with pytest.raises(AlreadyDecided):
            await funds.reject(panel, request_id, "op-ben", "too late")
        assert await _balance(panel, "alice") == 12_500_000
        assert [tuple(r) for r in await _deposits(panel, alice)] == [(12_500_000, "manual", "op-anna")]
        (decided,) = await funds.customer_requests(panel, alice)
        assert (decided["status"], decided["decided_by"]) == ("approved", "op-anna")
        assert decided["ledger_id"] is not None
        assert await funds.pending_requests(panel) == []
        assert await audit.run(panel) == []


async def test_two_racing_approvals_credit_once(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        bob = Customer.from_user_id((await accounts.add_user(panel, "bob", actor="cli"))[0])
        ids = [await funds.request_funds(panel, bob, Decimal(amount), None) for amount in ("1", "2", "4")]
        # Every request approved by several operators at the same moment.
        results = await asyncio.gather(
            *(funds.approve(panel, request_id, f"op{n}") for request_id in ids for n in range(4)),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, AlreadyDecided)]
        assert len(refused) == 3 * 3 and len(results) - len(refused) == 3, results
        assert await _balance(panel, "bob") == 7_000_000
        assert sorted(r["amount_micros"] for r in await _deposits(panel, bob)) == [1_000_000, 2_000_000, 4_000_000]
        assert await audit.run(panel) == []


async def test_approve_and_reject_racing_leave_one_decision(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        cara = Customer.from_user_id((await accounts.add_user(panel, "cara", actor="cli"))[0])
        request_id = await funds.request_funds(panel, cara, Decimal("3"), None)
        results = await asyncio.gather(
            funds.approve(panel, request_id, "op1"), funds.reject(panel, request_id, "op2", "no money seen"),
            return_exceptions=True,
        )
        assert sum(isinstance(r, AlreadyDecided) for r in results) == 1
        (row,) = await funds.customer_requests(panel, cara)
        assert await _balance(panel, "cara") == (3_000_000 if row["status"] == "approved" else 0)
        assert await audit.run(panel) == []


async def test_rejection_keeps_the_balance_and_tells_why(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        dan = Customer.from_user_id((await accounts.add_user(panel, "dan", actor="cli"))[0])
        request_id = await funds.request_funds(panel, dan, Decimal("5"), "sent yesterday")
        await funds.reject(panel, request_id, "op-anna", "no transfer with this reference arrived")
        (row,) = await funds.customer_requests(panel, dan)
        assert (row["status"], row["note"], row["ledger_id"]) == (
            "rejected", "no transfer with this reference arrived", None
        )
        assert await _balance(panel, "dan") == 0
        with pytest.raises(AlreadyDecided):
            await funds.approve(panel, request_id, "op-ben")
        assert await _balance(panel, "dan") == 0
        with pytest.raises(NotFound):
            await funds.approve(panel, request_id + 100, "op-ben")


@pytest.mark.parametrize(
    ("amount", "reference", "field", "rule"),
    [
        ("0", None, "amount", "positive"),
        ("-3", None, "amount", "not_negative"),
        ("abc", None, "amount", "decimal"),
        ("1e30", None, "amount", "too_large"),
        ("10", "x" * 201, "reference", "too_long"),
        ("10", "line\nbreak", "reference", "control_chars"),
    ],
)
async def test_a_bad_request_names_the_field_and_changes_nothing(sqlite_url, panel_factory, amount, reference,
                                                                  field, rule):
    async with panel_factory(sqlite_url) as panel:
        eve = Customer.from_user_id((await accounts.add_user(panel, "eve", actor="cli"))[0])
        with pytest.raises(InvalidField) as refused:
            await funds.request_funds(panel, eve, amount, reference)
        assert (refused.value.params["field"], refused.value.params["rule"]) == (field, rule)
        assert await funds.customer_requests(panel, eve) == []


async def test_pending_requests_are_capped_per_customer(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        fay = Customer.from_user_id((await accounts.add_user(panel, "fay", actor="cli"))[0])
        results = await asyncio.gather(
            *(funds.request_funds(panel, fay, Decimal(1), None) for _ in range(funds.MAX_PENDING_PER_CUSTOMER + 3)),
            return_exceptions=True,
        )
        accepted = [r for r in results if isinstance(r, int)]
        assert len(accepted) == funds.MAX_PENDING_PER_CUSTOMER
        assert all(isinstance(r, InvalidField) and r.params["rule"] == "pending_limit"
                   for r in results if not isinstance(r, int))
        await funds.approve(panel, accepted[0], "op")
        assert isinstance(await funds.request_funds(panel, fay, Decimal(1), None), int)


async def test_audit_finds_a_payment_deposit_without_its_request_and_the_reverse(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        gus = Customer.from_user_id((await accounts.add_user(panel, "gus", actor="cli"))[0])
        request_id = await funds.request_funds(panel, gus, Decimal("2"), None)
        await funds.approve(panel, request_id, "op")
        await accounts.add_funds(panel, "gus", Decimal("1"), "operator's own deposit: not a payment", actor="cli")
        assert await audit.run(panel) == []
        # A second manual deposit that no request accounts for...
        async with panel.db.transaction() as tx:
            from smmpanel.store import payments as store

            await store.credit(tx, gus.ref.value, 2_000_000, panel.clock(), method="manual", note="forged")
        assert [f.check for f in await audit.run(panel)] == ["every deposit with a payment method has exactly one payment"]
        # ...and an approved request whose deposit is gone.
        async with panel.db.transaction() as tx:
            await tx.execute("UPDATE funds_requests SET ledger_id = NULL WHERE id = $1", request_id)
        checks = [f.check for f in await audit.run(panel)]
        assert "every approved funds request has one manual deposit of its customer and amount" in checks


async def test_an_api_key_customer_may_ask_and_a_disabled_one_may_not(sqlite_url, panel_factory):
    from smmpanel.domain.errors import AccountUnavailable, InvalidApiKey

    async with panel_factory(sqlite_url) as panel:
        user_id, key = await accounts.add_user(panel, "hal", actor="cli")
        request_id = await funds.request_funds(panel, Customer.from_api_key(key), Decimal("4"), None)
        assert [r["id"] for r in await funds.customer_requests(panel, Customer.from_user_id(user_id))] == [request_id]
        with pytest.raises(InvalidApiKey):
            await funds.request_funds(panel, Customer.from_api_key(key + "x"), Decimal("4"), None)
        await accounts.set_active(panel, "hal", False)
        with pytest.raises(AccountUnavailable):
            await funds.request_funds(panel, Customer.from_user_id(user_id), Decimal("4"), None)
        assert len(await funds.pending_requests(panel)) == 1
