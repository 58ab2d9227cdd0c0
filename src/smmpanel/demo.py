"""The demo panel: a customer with money and a catalog with every order type."""

from __future__ import annotations

from decimal import Decimal

from .services import auth, catalog
from .services.panel import Panel
from .services.principal import ACTOR_CLI
from .settings import Settings
from .store.db import open_database

DEMO_BALANCE = Decimal("100")
DEMO_USER = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"  # a demo on 127.0.0.1, printed at start: not a secret

# (category, name, type, rate per 1000 or per package, min, max, flags)
DEMO_CATALOG: list[tuple[str, str, str, str, int, int, dict]] = [
    ("Facebook", "Facebook Post Likes", "Default", "0.90", 50, 50_000, {"refill": True, "cancel": True, "dripfeed": True}),
    ("Facebook", "Facebook Page Followers", "Default", "2.50", 100, 100_000, {"refill": True, "refill_days": 30}),
    ("Facebook", "Facebook Custom Comments", "Custom Comments", "8", 1, 1_000, {"cancel": True}),
    ("Facebook", "Facebook Poll Votes", "Poll", "3.20", 100, 10_000, {}),
    ("Facebook", "Facebook Group Invites", "Invites from Groups", "6", 100, 5_000, {}),
    ("TikTok", "TikTok Views", "Default", "0.05", 100, 1_000_000, {"cancel": True, "dripfeed": True}),
    ("TikTok", "TikTok Comment Likes", "Comment Likes", "1.80", 20, 5_000, {}),
    ("TikTok", "TikTok Comment Replies", "Comment Replies", "12", 1, 500, {}),
    ("Instagram", "Instagram Followers Package 1K", "Package", "4.99", 1, 1, {"refill": True}),
    ("Instagram", "Instagram Comments Package (10)", "Custom Comments Package", "2.50", 1, 1, {}),
    ("Instagram", "Instagram Mentions", "Mentions", "5", 100, 10_000, {}),
    ("Instagram", "Instagram Mentions with Hashtags", "Mentions with Hashtags", "5.5", 100, 10_000, {}),
    ("Instagram", "Instagram Mentions Custom List", "Mentions Custom List", "6", 1, 1_000, {}),
    ("Instagram", "Instagram Mentions Hashtag", "Mentions Hashtag", "5", 100, 10_000, {}),
    ("Instagram", "Instagram Mentions User Followers", "Mentions User Followers", "5", 100, 10_000, {}),
    ("Instagram", "Instagram Mentions Media Likers", "Mentions Media Likers", "5", 100, 10_000, {}),
    ("Instagram", "Instagram Auto Likes (subscription)", "Subscriptions", "1.20", 50, 5_000, {}),
    ("YouTube", "YouTube Views (SEO keywords)", "SEO", "1.50", 500, 100_000, {"refill": True}),
]


async def build_demo(settings: Settings) -> tuple[str, list[int]]:
    db = await open_database(settings.database_url)
    try:
        panel = Panel(db=db, currency=settings.currency)
        _, key = await auth.register(panel, DEMO_USER, email=DEMO_EMAIL, password=DEMO_PASSWORD, balance=DEMO_BALANCE,
                                     actor=ACTOR_CLI)
        ids = []
        for category, name, type_, rate, lo, hi, flags in DEMO_CATALOG:
            ids.append(await catalog.add_service(
                panel, name=name, category=category, type=type_, rate=rate, min=lo, max=hi, **flags
            ))
        return key, ids
    finally:
        await db.close()
