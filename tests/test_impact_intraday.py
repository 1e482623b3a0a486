"""Intraday reactions, computed by hand on small bar series."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest

from monitor.impact.intraday import reactions

UTC = timezone.utc


def bars(closes: list[float], start: str = "2025-02-04 14:30", session: str = "2025-02-04") -> pd.DataFrame:
    ts = pd.date_range(start, periods=len(closes), freq="5min", tz="UTC")
    return pd.DataFrame({"ts": ts, "session": pd.Timestamp(session), "close": closes})


def by_horizon(found):  # noqa: ANN001, ANN201
    return {r.horizon: r for r in found}


def test_returns_from_the_last_bar_before_the_story_against_the_benchmark() -> None:
    # Bars start 14:30, 14:35, ... and end 5 minutes later. Story at 14:41: the reference is the bar
    # ending 14:40 (close 101); +5m -> the bar ending 14:45 (close 99); +15m -> ending 14:55 (close 97).
    asset = bars([100, 101, 99, 98, 97, 97, 96, 95, 95, 95, 95, 95, 94, 94, 94, 94, 94, 94, 94, 94])
    bench = bars([50, 50, 50.5, 50.5, 50.5, 50.5, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50])
    found = by_horizon(reactions(datetime(2025, 2, 4, 14, 41, tzinfo=UTC), asset, bench,
                                 session_close=datetime(2025, 2, 4, 16, 10, tzinfo=UTC)))
    assert found["5m"].raw == pytest.approx(99 / 101 - 1)
    assert found["5m"].benchmark == pytest.approx(50.5 / 50 - 1)
    assert found["5m"].abnormal == pytest.approx(99 / 101 - 1 - 0.01)
    assert found["5m"].start == datetime(2025, 2, 4, 14, 40, tzinfo=UTC)
    assert found["15m"].raw == pytest.approx(97 / 101 - 1) and found["15m"].complete
    assert found["60m"].raw == pytest.approx(94 / 101 - 1)
    close = found["close"]
    assert close.raw == pytest.approx(94 / 101 - 1) and close.complete  # the last bar ends 16:10


def test_a_horizon_not_yet_reached_is_incomplete() -> None:
    asset = bars([100, 101, 102, 103])  # bars end 14:35 .. 14:50
    found = by_horizon(reactions(datetime(2025, 2, 4, 14, 41, tzinfo=UTC), asset))
    assert found["5m"].raw == pytest.approx(102 / 101 - 1)  # the bar ending 14:45
    assert found["15m"].raw is None and not found["15m"].complete
    assert found["15m"].reason == "the horizon has not passed"
    assert not found["close"].complete  # no later session held, no close time given


def test_news_after_the_close_has_only_the_next_sessions_close() -> None:
    day0 = bars([100, 100, 100], start="2025-02-04 20:45")  # last bars of the 4th, ending 21:00
    day1 = bars([102, 103, 104], start="2025-02-05 14:30", session="2025-02-05")
    asset = pd.concat([day0, day1], ignore_index=True)
    story = datetime(2025, 2, 4, 22, 0, tzinfo=UTC)  # after the close
    found = by_horizon(reactions(story, asset, session=pd.Timestamp("2025-02-05")))
    assert found["5m"].raw is None and "market closed" in found["5m"].reason
    assert found["close"].raw == pytest.approx(104 / 100 - 1)
    assert found["close"].start == datetime(2025, 2, 4, 21, 0, tzinfo=UTC)


def test_without_bars_nothing_is_invented() -> None:
    found = reactions(datetime(2025, 2, 4, 14, 41, tzinfo=UTC), bars([]))
    assert all(r.raw is None and not r.complete for r in found)
    with pytest.raises(ValueError, match="time zone"):
        reactions(datetime(2025, 2, 4, 14, 41), bars([1.0]))
