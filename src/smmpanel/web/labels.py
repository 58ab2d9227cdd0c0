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
# The order form's fields, by the API parameter each one sends.
FIELD_NAMES = {
    "link": N_("Link"), "quantity": N_("Quantity"), "comments": N_("Comments"), "usernames": N_("Usernames"),
    "username": N_("Username"), "hashtags": N_("Hashtags"), "hashtag": N_("Hashtag"), "keywords": N_("Keywords"),
    "media": N_("Media"), "answer_number": N_("Answer number"), "groups": N_("Groups"), "min": N_("Min"),
    "max": N_("Max"), "posts": N_("Posts"), "old_posts": N_("Old posts"), "delay": N_("Delay"), "expiry": N_("Expiry"),
    "runs": N_("Runs"), "interval": N_("Interval"), "minutes": N_("Minutes"), "list": N_("List"),
    "suggest": N_("Suggest"), "search": N_("Search"),
}
KIND_NAMES = {"deposit": N_("Deposit"), "charge": N_("Charge"), "refund": N_("Refund"), "adjustment": N_("Adjustment")}


def translated_labels(gettext: Callable[[str], str]) -> dict[str, dict[str, str]]:
    return {
        "status_names": {value: gettext(text) for value, text in STATUS_NAMES.items()},
        "kind_names": {value: gettext(text) for value, text in KIND_NAMES.items()},
        "field_names": {value: gettext(text) for value, text in FIELD_NAMES.items()},
    }
