"""The manual method: a customer's funds request, approved by an operator
who has checked the money arrived (``services.funds``). The operator is the
verification; approval credits exactly the requested amount, once."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from ..services import funds
from ..services.panel import Panel
from .base import PaymentMethod


class ManualMethod(PaymentMethod):
    name: ClassVar[str] = funds.METHOD
    title: ClassVar[str] = "Funds request (checked by an operator)"

    @property
    def enabled(self) -> bool:
        return True  # needs no configuration: operators are always there

    async def request(self, panel: Panel, customer: int, amount: Decimal, reference: str | None) -> int:
        return await funds.request_funds(panel, customer, amount, reference)

    async def approve(self, panel: Panel, request_id: int, actor: str) -> int:
        return await funds.approve(panel, request_id, actor)

    async def reject(self, panel: Panel, request_id: int, actor: str, note: str | None) -> None:
        await funds.reject(panel, request_id, actor, note)
