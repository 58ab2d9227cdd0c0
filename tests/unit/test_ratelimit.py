"""Rate-limit arithmetic: parsing the setting, fixed windows, sharing."""

import pytest

from smmpanel.domain.ratelimit import RateLimit, Windows, parse_rate_limit, whole_seconds


@pytest.mark.parametrize("text, limit", [
    ("3000/minute", RateLimit(3000, 60)), ("10/second", RateLimit(10, 1)), ("5/hours", RateLimit(5, 3600)),
    (" 7/DAY ", RateLimit(7, 86_400)), ("0", None), ("off", None),
])
def test_parse(text, limit):
    assert parse_rate_limit(text) == limit


@pytest.mark.parametrize("text", ["", "fast", "10", "10/fortnight", "-1/minute", "0/minute", "1.5/second", "x/minute"])
def test_parse_refuses(text):
    with pytest.raises(ValueError, match="N/minute"):
        parse_rate_limit(text)


def test_limit_per_bucket_and_window_with_retry_after():
    windows = Windows(RateLimit(3, 60))
    start = 6_000.0  # a window boundary (a multiple of 60)
    assert [windows.hit("a", start + 10) for _ in range(3)] == [None, None, None]
    assert windows.hit("a", start + 10) == pytest.approx(50)  # refused until the window ends
    assert windows.hit("b", start + 10) is None  # another account is not affected
    assert windows.hit("a", start + 59.5) == pytest.approx(0.5)
    assert windows.hit("a", start + 60) is None  # a new window
    assert whole_seconds(0.5) == 1 and whole_seconds(50) == 50 and whole_seconds(49.2) == 50


def test_shared_totals_count_other_processes_hits():
    mine, theirs = Windows(RateLimit(5, 60)), Windows(RateLimit(5, 60))
    now = 600.0
    for _ in range(3):
        assert mine.hit("a", now) is None and theirs.hit("a", now) is None
    store: dict[str, int] = {}

    def share(windows: Windows) -> None:
        window, pending = windows.pending()
        for bucket, n in pending.items():
            store[bucket] = store.get(bucket, 0) + n
        windows.shared(window, pending, {bucket: store[bucket] for bucket in pending})

    share(mine)
    assert mine.hit("a", now) is None  # 3 known + 1: still under 5
    share(theirs)  # the store now holds 6 (3 + 3), plus mine's unshared 1
    assert theirs.hit("a", now) is not None
    share(mine)
    assert mine.pending()[1] == {} and mine.hit("a", now) is not None


def test_hits_counted_while_sharing_stay_pending():
    windows = Windows(RateLimit(100, 60))
    for _ in range(4):
        windows.hit("a", 0.0)
    window, sent = windows.pending()
    windows.hit("a", 0.0)  # arrives while the store call is out
    windows.shared(window, sent, {"a": 10})  # 4 of mine + 6 of others
    assert windows.pending()[1] == {"a": 1}
    for _ in range(89):
        assert windows.hit("a", 0.0) is None
    assert windows.hit("a", 0.0) is not None  # 10 + 1 + 89 = 100
