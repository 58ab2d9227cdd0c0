"""Words the pages show for the panel's own values (statuses, ledger kinds),
translated once per language rather than once per table row."""

from __future__ import annotations

from typing import Callable


def N_(text: str) -> str:
    """Marks a text for the catalog (extracted by Babel); translated later."""
    return text


STATUS_NAMES = {
    "Pending": N_("Pending"), "Processing": N_("Processing"), "In progress": N_("In progress"),
    "Completed": N_("Completed"), "Partial": N_("Partial"), "Canceled": N_("Canceled"), "Rejected": N_("Rejected"),
    # funds requests
    "pending": N_("Pending"), "approved": N_("Approved"), "rejected": N_("Rejected"),
}
KIND_NAMES = {"deposit": N_("Deposit"), "charge": N_("Charge"), "refund": N_("Refund"), "adjustment": N_("Adjustment")}


def translated_labels(gettext: Callable[[str], str]) -> dict[str, dict[str, str]]:
    return {
        "status_names": {value: gettext(text) for value, text in STATUS_NAMES.items()},
        "kind_names": {value: gettext(text) for value, text in KIND_NAMES.items()},
    }
