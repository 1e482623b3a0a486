"""Tests of monitor.calendars: publication time -> event session, session grids.

Hand-picked cases pin exact sessions and timings around opens, closes,
weekends, holidays, early closes and daylight saving switches; property tests
check the invariants over random aware timestamps; exchange_calendars'
own ``minute_to_session`` serves as an independent oracle for XNYS.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor import calendars
from monitor.calendars import (
    FUTURES_CALENDAR,
    INDEX_CALENDARS,
    SUFFIX_CALENDARS,
    calendar_for,
    calendar_tz,
    event_time,
    is_session,
    last_closed_session,
    session_close,
    session_open,
    sessions_in_range,
    sessions_window,
)
from monitor.errors import CalendarError
from monitor.models import CALENDAR_24_7, AssetClass, EventTime, Timing

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")
TORONTO = ZoneInfo("America/Toronto")
CHICAGO = ZoneInfo("America/Chicago")

D = date.fromisoformat


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def dates(*isos: str) -> list[date]:
    return [D(iso) for iso in isos]


def as_dates(index: pd.DatetimeIndex) -> list[date]:
    return [ts.date() for ts in index]


# --------------------------------------------------------------------------- #
# The seed example
# --------------------------------------------------------------------------- #


def test_seed_article_date_only_on_xnys() -> None:
    assert event_time(utc(2025, 2, 4), "XNYS", date_only=True) == EventTime(
        session=D("2025-02-04"), timing=Timing.DATE_ONLY, calendar="XNYS"
    )


def test_seed_article_date_only_on_24_7() -> None:
    assert event_time(utc(2025, 2, 4), CALENDAR_24_7, date_only=True) == EventTime(
        session=D("2025-02-04"), timing=Timing.DATE_ONLY, calendar=CALENDAR_24_7
    )


# --------------------------------------------------------------------------- #
# Hand-picked cases
# --------------------------------------------------------------------------- #

PRE, REG, AFTER, CLOSED, DATE_ONLY, CONT = (
    Timing.PRE_MARKET,
    Timing.REGULAR,
    Timing.AFTER_HOURS,
    Timing.NON_TRADING_DAY,
    Timing.DATE_ONLY,
    Timing.CONTINUOUS,
)

HAND_PICKED = [
    # (id, published_at, calendar, date_only, session, timing)
    ("pre-market Tuesday 08:00 NY", ny(2025, 2, 4, 8, 0), "XNYS", False, "2025-02-04", PRE),
    ("one microsecond before open", ny(2025, 2, 4, 9, 29, 59, 999999), "XNYS", False, "2025-02-04", PRE),
    ("exactly at the open", ny(2025, 2, 4, 9, 30), "XNYS", False, "2025-02-04", REG),
    ("regular 10:00 NY", ny(2025, 2, 4, 10, 0), "XNYS", False, "2025-02-04", REG),
    ("one microsecond before close", ny(2025, 2, 4, 15, 59, 59, 999999), "XNYS", False, "2025-02-04", REG),
    ("exactly at the close", ny(2025, 2, 4, 16, 0), "XNYS", False, "2025-02-05", AFTER),
    ("late evening", ny(2025, 2, 4, 23, 59), "XNYS", False, "2025-02-05", AFTER),
    ("Friday 17:30 -> Monday", ny(2025, 2, 7, 17, 30), "XNYS", False, "2025-02-10", AFTER),
    ("Saturday -> Monday", ny(2025, 2, 8, 12, 0), "XNYS", False, "2025-02-10", CLOSED),
    ("Sunday late -> Monday", ny(2025, 2, 9, 23, 0), "XNYS", False, "2025-02-10", CLOSED),
    ("Good Friday 2025", ny(2025, 4, 18, 10, 0), "XNYS", False, "2025-04-21", CLOSED),
    ("Thursday before Good Friday, after close", ny(2025, 4, 17, 18, 0), "XNYS", False, "2025-04-21", AFTER),
    ("July 4th 2025 (a Friday)", ny(2025, 7, 4, 11, 0), "XNYS", False, "2025-07-07", CLOSED),
    ("July 3rd 2025 early close 13:00, at 13:30", ny(2025, 7, 3, 13, 30), "XNYS", False, "2025-07-07", AFTER),
    ("July 3rd 2025 before the early close", ny(2025, 7, 3, 12, 59), "XNYS", False, "2025-07-03", REG),
    ("day after Thanksgiving, 12:59", ny(2024, 11, 29, 12, 59), "XNYS", False, "2024-11-29", REG),
    ("day after Thanksgiving, 13:30", ny(2024, 11, 29, 13, 30), "XNYS", False, "2024-12-02", AFTER),
    ("Thanksgiving Day", ny(2024, 11, 28, 10, 0), "XNYS", False, "2024-11-29", CLOSED),
    # Daylight saving: 2025-03-10 is the first Monday on EDT (open 13:30 UTC).
    ("DST week: 09:00 NY is pre-market", ny(2025, 3, 10, 9, 0), "XNYS", False, "2025-03-10", PRE),
    ("DST week: 13:45 UTC is 09:45 EDT", utc(2025, 3, 10, 13, 45), "XNYS", False, "2025-03-10", REG),
    ("winter week: 13:45 UTC is 08:45 EST", utc(2025, 3, 7, 13, 45), "XNYS", False, "2025-03-07", PRE),
    ("DST week: 20:30 UTC is 16:30 EDT", utc(2025, 3, 10, 20, 30), "XNYS", False, "2025-03-11", AFTER),
    ("winter week: 20:30 UTC is 15:30 EST", utc(2025, 3, 7, 20, 30), "XNYS", False, "2025-03-07", REG),
    ("back to EST: 14:15 UTC is 09:15 EST", utc(2025, 11, 3, 14, 15), "XNYS", False, "2025-11-03", PRE),
    # Zones other than the exchange's: Tuesday morning in Tokyo is Monday in New York.
    ("Tokyo Tue 05:00 = NY Mon 15:00", datetime(2025, 2, 4, 5, 0, tzinfo=TOKYO), "XNYS", False, "2025-02-03", REG),
    ("Tokyo Tue 07:00 = NY Mon 17:00", datetime(2025, 2, 4, 7, 0, tzinfo=TOKYO), "XNYS", False, "2025-02-04", AFTER),
    ("Tokyo Sat 06:30 = NY Fri 16:30", datetime(2025, 2, 8, 6, 30, tzinfo=TOKYO), "XNYS", False, "2025-02-10", AFTER),
    # Date-only articles: the UTC date, or the next session.
    ("date-only Tuesday", utc(2025, 2, 4), "XNYS", True, "2025-02-04", DATE_ONLY),
    ("date-only Sunday -> Monday", utc(2025, 2, 9), "XNYS", True, "2025-02-10", DATE_ONLY),
    ("date-only Good Friday", utc(2025, 4, 18), "XNYS", True, "2025-04-21", DATE_ONLY),
    ("date-only July 4th", utc(2025, 7, 4), "XNYS", True, "2025-07-07", DATE_ONLY),
    # London: opens 08:00, closes 16:30 local; the UK changes clocks on 2025-03-30.
    ("XLON pre-market 07:30 GMT", utc(2025, 3, 28, 7, 30), "XLON", False, "2025-03-28", PRE),
    ("XLON 07:30 UTC is 08:30 BST", utc(2025, 3, 31, 7, 30), "XLON", False, "2025-03-31", REG),
    ("XLON at the close Friday", datetime(2025, 3, 28, 16, 30, tzinfo=LONDON), "XLON", False, "2025-03-31", AFTER),
    ("XLON Christmas Eve early close", datetime(2024, 12, 24, 12, 45, tzinfo=LONDON), "XLON", False, "2024-12-27", AFTER),
    ("XLON Boxing Day", datetime(2024, 12, 26, 10, 0, tzinfo=LONDON), "XLON", False, "2024-12-27", CLOSED),
    ("XLON Easter Monday (open in NY)", datetime(2025, 4, 21, 10, 0, tzinfo=LONDON), "XLON", False, "2025-04-22", CLOSED),
    ("XLON date-only Easter Monday", utc(2025, 4, 21), "XLON", True, "2025-04-22", DATE_ONLY),
    # Crypto: the UTC day, whatever the zone given.
    ("24/7 last second of the UTC day", utc(2025, 2, 4, 23, 59, 59), CALENDAR_24_7, False, "2025-02-04", CONT),
    ("24/7 first second of the next UTC day", utc(2025, 2, 5, 0, 0, 0), CALENDAR_24_7, False, "2025-02-05", CONT),
    ("24/7 NY evening is the next UTC day", ny(2025, 2, 4, 20, 0), CALENDAR_24_7, False, "2025-02-05", CONT),
    ("24/7 Saturday", utc(2025, 2, 8, 12, 0), CALENDAR_24_7, False, "2025-02-08", CONT),
    # The table.
    ("Friday 16:05 NY -> Monday", ny(2025, 2, 7, 16, 5), "XNYS", False, "2025-02-10", AFTER),
    ("09:29 NY is pre-market the same day", ny(2025, 2, 4, 9, 29), "XNYS", False, "2025-02-04", PRE),
    ("2025-07-04 holiday -> 2025-07-07", ny(2025, 7, 4, 9, 0), "XNYS", False, "2025-07-07", CLOSED),
    ("Saturday 14:00 UTC on 24/7 is Saturday", utc(2025, 2, 8, 14, 0), CALENDAR_24_7, False, "2025-02-08", CONT),
    ("Saturday 14:00 UTC on XNYS is Monday", utc(2025, 2, 8, 14, 0), "XNYS", False, "2025-02-10", CLOSED),
    ("09:29 EDT after spring-forward (13:29 UTC)", ny(2025, 3, 10, 9, 29), "XNYS", False, "2025-03-10", PRE),
    ("09:29 EST before spring-forward (14:29 UTC)", ny(2025, 3, 7, 9, 29), "XNYS", False, "2025-03-07", PRE),
    ("13:45 UTC Friday before spring-forward is 08:45 EST", utc(2025, 3, 7, 13, 45), "XNYS", False, "2025-03-07", PRE),
    ("Friday before fall-back: 13:30 UTC is 09:30 EDT", utc(2025, 10, 31, 13, 30), "XNYS", False, "2025-10-31", REG),
    ("Monday after fall-back: 13:30 UTC is 08:30 EST", utc(2025, 11, 3, 13, 30), "XNYS", False, "2025-11-03", PRE),
    ("Monday after fall-back: 14:30 UTC is 09:30 EST", utc(2025, 11, 3, 14, 30), "XNYS", False, "2025-11-03", REG),
    ("the repeated hour of fall-back night (01:30 EST)", datetime(2025, 11, 2, 1, 30, fold=1, tzinfo=NY), "XNYS", False, "2025-11-03", CLOSED),
    ("early close 2024-11-29: 13:05 is after hours", ny(2024, 11, 29, 13, 5), "XNYS", False, "2024-12-02", AFTER),
    ("XNAS follows the NYSE grid", ny(2025, 2, 4, 10, 0), "XNAS", False, "2025-02-04", REG),
    ("XNAS after the close", ny(2025, 2, 7, 16, 5), "XNAS", False, "2025-02-10", AFTER),
    # London: 16:31 is after the 16:30 close; the clocks went back on 2025-10-26.
    ("XLON 16:31 GMT -> next session", datetime(2025, 3, 28, 16, 31, tzinfo=LONDON), "XLON", False, "2025-03-31", AFTER),
    ("XLON 16:31 BST -> next session", datetime(2025, 3, 31, 16, 31, tzinfo=LONDON), "XLON", False, "2025-04-01", AFTER),
    ("XLON 07:30 UTC is 08:30 BST (regular)", utc(2025, 10, 24, 7, 30), "XLON", False, "2025-10-24", REG),
    ("XLON 07:59 UTC is 07:59 GMT (pre-market)", utc(2025, 10, 27, 7, 59), "XLON", False, "2025-10-27", PRE),
    # Tokyo: 09:00-15:30 (15:00 until 2024-11-04), lunch break 11:30-12:30.
    ("XTKS 08:59 pre-market", datetime(2025, 2, 4, 8, 59, tzinfo=TOKYO), "XTKS", False, "2025-02-04", PRE),
    ("XTKS 09:00 open", datetime(2025, 2, 4, 9, 0, tzinfo=TOKYO), "XTKS", False, "2025-02-04", REG),
    ("XTKS 12:00 lunch break is regular, same session", datetime(2025, 2, 4, 12, 0, tzinfo=TOKYO), "XTKS", False, "2025-02-04", REG),
    ("XTKS 15:29 before the 15:30 close", datetime(2025, 2, 4, 15, 29, tzinfo=TOKYO), "XTKS", False, "2025-02-04", REG),
    ("XTKS 15:31 -> next session", datetime(2025, 2, 4, 15, 31, tzinfo=TOKYO), "XTKS", False, "2025-02-05", AFTER),
    ("XTKS 15:10 was after the old 15:00 close", datetime(2024, 11, 1, 15, 10, tzinfo=TOKYO), "XTKS", False, "2024-11-05", AFTER),
    ("XTKS 15:10 is before the new 15:30 close", datetime(2024, 11, 5, 15, 10, tzinfo=TOKYO), "XTKS", False, "2024-11-05", REG),
    ("XTKS New Year holiday", datetime(2025, 1, 3, 10, 0, tzinfo=TOKYO), "XTKS", False, "2025-01-06", CLOSED),
    ("XTKS date-only New Year holiday", utc(2025, 1, 2), "XTKS", True, "2025-01-06", DATE_ONLY),
    ("XHKG 12:30 lunch break is regular", datetime(2025, 2, 4, 12, 30, tzinfo=ZoneInfo("Asia/Hong_Kong")), "XHKG", False, "2025-02-04", REG),
    # Toronto: 09:30-16:00 Eastern; Canada Day is a holiday, US Independence Day is not.
    ("XTSE 09:29 EDT pre-market", datetime(2025, 3, 10, 9, 29, tzinfo=TORONTO), "XTSE", False, "2025-03-10", PRE),
    ("XTSE Canada Day", datetime(2025, 7, 1, 10, 0, tzinfo=TORONTO), "XTSE", False, "2025-07-02", CLOSED),
    ("XTSE evening before Canada Day", datetime(2025, 6, 30, 16, 1, tzinfo=TORONTO), "XTSE", False, "2025-07-02", AFTER),
    ("XTSE trades on July 4th", datetime(2025, 7, 4, 10, 0, tzinfo=TORONTO), "XTSE", False, "2025-07-04", REG),
    # CME Globex (futures): sessions open at 17:00 Chicago the evening before.
    ("CMES Sunday 17:00 CT opens Monday", datetime(2025, 2, 9, 17, 0, tzinfo=CHICAGO), "CMES", False, "2025-02-10", REG),
    ("CMES Sunday 16:00 CT", datetime(2025, 2, 9, 16, 0, tzinfo=CHICAGO), "CMES", False, "2025-02-10", CLOSED),
    ("CMES Friday 17:30 CT -> Monday", datetime(2025, 2, 7, 17, 30, tzinfo=CHICAGO), "CMES", False, "2025-02-10", AFTER),
    ("CMES Good Friday", datetime(2025, 4, 18, 10, 0, tzinfo=CHICAGO), "CMES", False, "2025-04-21", CLOSED),
    ("CMES Thanksgiving after the 12:00 early close", datetime(2024, 11, 28, 12, 30, tzinfo=CHICAGO), "CMES", False, "2024-11-29", AFTER),
]


@pytest.mark.parametrize(
    ("published_at", "calendar", "date_only", "session", "timing"),
    [pytest.param(*case[1:], id=case[0]) for case in HAND_PICKED],
)
def test_event_time_hand_picked(
    published_at: datetime, calendar: str, date_only: bool, session: str, timing: Timing
) -> None:
    result = event_time(published_at, calendar, date_only=date_only)
    assert result == EventTime(session=D(session), timing=timing, calendar=calendar)
    assert type(result.session) is date


def test_crypto_midnight_splits_sessions() -> None:
    before = event_time(utc(2025, 2, 4, 23, 59, 59), CALENDAR_24_7)
    after = event_time(utc(2025, 2, 5, 0, 0, 0), CALENDAR_24_7)
    assert before.session != after.session
    assert after.session - before.session == timedelta(days=1)


def test_calendar_alias_is_accepted() -> None:
    assert event_time(ny(2025, 2, 4, 10, 0), "NYSE") == EventTime(
        session=D("2025-02-04"), timing=REG, calendar="NYSE"
    )


def test_bounded_calendar_is_clamped_to_its_bounds() -> None:
    # exchange_calendars only knows Saudi holidays from 2021: the calendar is
    # built from there, and earlier dates are refused rather than guessed.
    assert event_time(utc(2025, 2, 7, 9, 0), "XSAU") == EventTime(
        session=D("2025-02-09"), timing=CLOSED, calendar="XSAU"
    )  # Friday: the Saudi week trades Sunday to Thursday
    with pytest.raises(CalendarError, match="XSAU"):
        is_session("XSAU", D("2020-06-01"))


# --------------------------------------------------------------------------- #
# Session grids
# --------------------------------------------------------------------------- #


def test_is_session() -> None:
    assert is_session("XNYS", D("2025-04-17"))
    assert not is_session("XNYS", D("2025-04-18"))  # Good Friday
    assert not is_session("XNYS", D("2025-02-08"))  # Saturday
    assert is_session("XLON", D("2025-07-04"))  # not a holiday in London
    assert not is_session("XLON", D("2025-04-21"))  # Easter Monday
    assert is_session(CALENDAR_24_7, D("2025-02-08"))
    # a naive midnight timestamp (an element of a session index) is a label too
    assert is_session("XNYS", pd.Timestamp("2025-04-17"))
    with pytest.raises(ValueError, match="session label"):
        is_session("XNYS", datetime(2025, 4, 17, 12, 0))


def test_sessions_in_range_skips_weekend_and_holiday() -> None:
    result = sessions_in_range("XNYS", D("2025-04-14"), D("2025-04-22"))
    assert as_dates(result) == dates(
        "2025-04-14", "2025-04-15", "2025-04-16", "2025-04-17", "2025-04-21", "2025-04-22"
    )
    assert isinstance(result, pd.DatetimeIndex)
    assert result.dtype == "datetime64[ns]"
    assert result.tz is None
    assert (result == result.normalize()).all()


def test_sessions_in_range_bounds_are_inclusive_and_may_be_non_sessions() -> None:
    assert as_dates(sessions_in_range("XNYS", D("2025-04-17"), D("2025-04-21"))) == dates(
        "2025-04-17", "2025-04-21"
    )
    assert sessions_in_range("XNYS", D("2025-04-18"), D("2025-04-20")).empty
    with pytest.raises(ValueError, match="after"):
        sessions_in_range("XNYS", D("2025-04-21"), D("2025-04-17"))


def test_sessions_in_range_24_7_is_every_day() -> None:
    result = sessions_in_range(CALENDAR_24_7, D("2024-02-27"), D("2024-03-02"))
    assert as_dates(result) == dates(
        "2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"
    )
    assert result.dtype == "datetime64[ns]"
    assert result.tz is None


def test_sessions_window() -> None:
    window = sessions_window("XNYS", D("2025-04-21"), 2, 1)
    assert as_dates(window) == dates("2025-04-16", "2025-04-17", "2025-04-21", "2025-04-22")
    assert window.dtype == "datetime64[ns]"
    assert as_dates(sessions_window("XNYS", D("2025-04-21"), 0, 0)) == dates("2025-04-21")
    assert as_dates(sessions_window(CALENDAR_24_7, D("2024-02-28"), 1, 2)) == dates(
        "2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"
    )


def test_sessions_window_refuses_non_sessions_and_bad_counts() -> None:
    with pytest.raises(CalendarError, match="2025-04-18 is not a trading session"):
        sessions_window("XNYS", D("2025-04-18"), 1, 1)
    with pytest.raises(ValueError, match=">= 0"):
        sessions_window("XNYS", D("2025-04-21"), -1, 1)
    with pytest.raises(CalendarError, match="leaves the range"):
        sessions_window("XNYS", D("2000-01-03"), 1, 0)  # the first session built


def test_session_open_and_close() -> None:
    assert session_open("XNYS", D("2025-03-07")) == utc(2025, 3, 7, 14, 30)  # EST
    assert session_open("XNYS", D("2025-03-10")) == utc(2025, 3, 10, 13, 30)  # EDT
    assert session_close("XNYS", D("2025-03-10")) == utc(2025, 3, 10, 20, 0)
    assert session_close("XNYS", D("2024-11-29")) == utc(2024, 11, 29, 18, 0)  # early close
    assert session_close("XLON", D("2024-12-24")) == utc(2024, 12, 24, 12, 30)
    assert session_open(CALENDAR_24_7, D("2025-02-04")) == utc(2025, 2, 4)
    assert session_close(CALENDAR_24_7, D("2025-02-04")) == utc(2025, 2, 5)
    for value in (session_open("XNYS", D("2025-03-10")), session_close(CALENDAR_24_7, D("2025-02-04"))):
        assert type(value) is datetime
        assert value.utcoffset() == timedelta(0)
    with pytest.raises(CalendarError, match="not a trading session"):
        session_close("XNYS", D("2025-04-18"))


@pytest.mark.parametrize(
    ("calendar", "now", "expected"),
    [
        pytest.param("XNYS", ny(2025, 2, 4, 15, 59), "2025-02-03", id="before the close"),
        pytest.param("XNYS", ny(2025, 2, 4, 16, 0), "2025-02-04", id="at the close"),
        pytest.param("XNYS", ny(2025, 2, 8, 12, 0), "2025-02-07", id="Saturday"),
        pytest.param("XNYS", ny(2025, 4, 18, 12, 0), "2025-04-17", id="Good Friday"),
        pytest.param("XNYS", ny(2024, 11, 29, 13, 0), "2024-11-29", id="early close"),
        pytest.param("XNYS", ny(2024, 11, 29, 12, 59), "2024-11-27", id="before early close"),
        pytest.param("XLON", datetime(2025, 4, 21, 18, 0, tzinfo=LONDON), "2025-04-17", id="XLON Easter"),
        pytest.param(CALENDAR_24_7, utc(2025, 2, 5, 0, 0), "2025-02-04", id="24/7 midnight"),
        pytest.param(CALENDAR_24_7, utc(2025, 2, 4, 23, 59, 59), "2025-02-03", id="24/7 late"),
    ],
)
def test_last_closed_session(calendar: str, now: datetime, expected: str) -> None:
    assert last_closed_session(calendar, now) == D(expected)


def test_calendar_tz() -> None:
    assert calendar_tz("XNYS") == ZoneInfo("America/New_York")
    assert calendar_tz("XLON") == ZoneInfo("Europe/London")
    assert calendar_tz("XTKS") == ZoneInfo("Asia/Tokyo")
    assert calendar_tz(CALENDAR_24_7) == ZoneInfo("UTC")


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the calendars exchange_calendars is asked to build, from a fresh grid cache on."""
    names: list[str] = []
    real_get_calendar = xcals.get_calendar

    def counting_get_calendar(name: str, *args: object, **kwargs: object) -> object:
        names.append(name)
        return real_get_calendar(name, *args, **kwargs)

    monkeypatch.setattr(calendars, "_grids", {})
    monkeypatch.setattr(calendars.xcals, "get_calendar", counting_get_calendar)
    return names


def test_calendar_is_built_once_per_process(built: list[str]) -> None:
    event_time(ny(2025, 2, 4, 10, 0), "XNYS")
    event_time(ny(2025, 2, 5, 10, 0), "XNYS")
    is_session("XNYS", D("2025-02-04"))
    session_close("XNYS", D("2025-02-04"))
    assert built == ["XNYS"]


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: event_time(utc(2025, 2, 4), "XNYZ"), id="event_time"),
        pytest.param(lambda: is_session("XNYZ", D("2025-02-04")), id="is_session"),
        pytest.param(lambda: sessions_in_range("XNYZ", D("2025-02-04"), D("2025-02-05")), id="range"),
        pytest.param(lambda: sessions_window("XNYZ", D("2025-02-04"), 1, 1), id="window"),
        pytest.param(lambda: session_close("XNYZ", D("2025-02-04")), id="close"),
        pytest.param(lambda: last_closed_session("XNYZ", utc(2025, 2, 4)), id="last_closed"),
        pytest.param(lambda: calendar_tz("XNYZ"), id="tz"),
    ],
)
def test_unknown_calendar_raises_calendar_error(call) -> None:  # noqa: ANN001
    with pytest.raises(CalendarError) as info:
        call()
    message = str(info.value)
    assert "'XNYZ'" in message  # names the culprit
    assert "Did you mean" in message and "'XNYS'" in message  # suggests a fix
    assert "24/7" in message and "XLON" in message  # lists the valid choices


def test_unknown_calendar_error_is_cached_and_repeatable() -> None:
    for _ in range(2):
        with pytest.raises(CalendarError, match="unknown trading calendar 'NOPE'"):
            event_time(utc(2025, 2, 4), "NOPE")


@pytest.mark.parametrize("calendar", ["XNYS", CALENDAR_24_7])
def test_naive_datetime_raises_value_error(calendar: str) -> None:
    with pytest.raises(ValueError, match="naive"):
        event_time(datetime(2025, 2, 4, 10, 0), calendar)
    with pytest.raises(ValueError, match="naive"):
        event_time(datetime(2025, 2, 4), calendar, date_only=True)
    with pytest.raises(ValueError, match="naive"):
        last_closed_session(calendar, datetime(2025, 2, 4, 10, 0))


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: event_time(utc(1999, 6, 1, 15), "XNYS"), id="timed, too early"),
        pytest.param(lambda: event_time(utc(2100, 6, 1, 15), "XNYS"), id="timed, too late"),
        pytest.param(lambda: event_time(utc(2100, 6, 1), "XNYS", date_only=True), id="date-only, too late"),
        pytest.param(lambda: is_session("XNYS", D("1999-06-01")), id="is_session"),
        pytest.param(lambda: sessions_in_range("XNYS", D("1999-12-01"), D("2000-02-01")), id="range"),
        pytest.param(lambda: session_open("XNYS", D("2100-06-01")), id="session_open"),
        pytest.param(lambda: last_closed_session("XNYS", utc(1999, 6, 1)), id="last_closed"),
    ],
)
def test_dates_outside_the_built_range_raise_calendar_error(call) -> None:  # noqa: ANN001
    with pytest.raises(CalendarError, match="outside the range the XNYS calendar covers"):
        call()


# --------------------------------------------------------------------------- #
# Properties
# --------------------------------------------------------------------------- #

ZONES = [
    ZoneInfo(key)
    for key in (
        "UTC",
        "America/New_York",
        "America/Los_Angeles",
        "Europe/London",
        "Asia/Tokyo",
        "Australia/Sydney",
    )
]
EXCHANGES = ["XNYS", "XLON", "XTKS"]

aware_times = st.datetimes(
    min_value=datetime(2015, 1, 1),
    max_value=datetime(2026, 12, 31, 23, 59, 59),
    timezones=st.sampled_from(ZONES),
    allow_imaginary=False,
)
session_dates = st.dates(min_value=D("2015-01-01"), max_value=D("2026-12-31"))

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _previous_session(calendar: str, session: date) -> date:
    return sessions_window(calendar, session, 1, 0)[0].date()


def _next_session(calendar: str, session: date) -> date:
    return sessions_window(calendar, session, 0, 1)[1].date()


@PROPERTY_SETTINGS
@given(published_at=aware_times, calendar=st.sampled_from(EXCHANGES))
def test_timed_event_session_is_the_first_session_closing_after_publication(
    published_at: datetime, calendar: str
) -> None:
    result = event_time(published_at, calendar)
    session = result.session
    assert result.calendar == calendar
    assert is_session(calendar, session)
    assert session_close(calendar, session) > published_at
    # no session between publication and the chosen one closes after it
    assert session_close(calendar, _previous_session(calendar, session)) <= published_at


@PROPERTY_SETTINGS
@given(published_at=aware_times, calendar=st.sampled_from(EXCHANGES))
def test_timing_agrees_with_the_exchange_local_day(published_at: datetime, calendar: str) -> None:
    result = event_time(published_at, calendar)
    local_day = published_at.astimezone(calendar_tz(calendar)).date()
    opens = session_open(calendar, result.session)
    if result.timing is Timing.REGULAR:
        assert opens <= published_at < session_close(calendar, result.session)
        assert local_day == result.session
    else:
        assert published_at < opens
        if result.timing is Timing.PRE_MARKET:
            assert local_day == result.session
        elif result.timing is Timing.AFTER_HOURS:
            assert is_session(calendar, local_day)
            assert _next_session(calendar, local_day) == result.session
        else:
            assert result.timing is Timing.NON_TRADING_DAY
            assert not is_session(calendar, local_day)
            assert local_day < result.session


@functools.cache
def _reference_xnys() -> xcals.ExchangeCalendar:
    return xcals.get_calendar("XNYS", start="2014-01-01", end="2027-12-31")


@pytest.mark.filterwarnings("ignore:.*values returning an ndarray:DeprecationWarning")
@PROPERTY_SETTINGS
@given(published_at=aware_times.map(lambda t: t.replace(second=0, microsecond=0)))
def test_xnys_session_matches_exchange_calendars_minute_to_session(published_at: datetime) -> None:
    reference = _reference_xnys().minute_to_session(pd.Timestamp(published_at), direction="next")
    assert event_time(published_at, "XNYS").session == reference.date()


@PROPERTY_SETTINGS
@given(
    day=session_dates,
    calendar=st.sampled_from(EXCHANGES),
    delta=st.sampled_from(
        [timedelta(microseconds=-1), timedelta(0), timedelta(microseconds=1), timedelta(minutes=1)]
    ),
)
def test_session_boundaries_to_the_microsecond(day: date, calendar: str, delta: timedelta) -> None:
    session = event_time(datetime.combine(day, time(), UTC), calendar, date_only=True).session
    at_close = event_time(session_close(calendar, session) + delta, calendar)
    if delta < timedelta(0):
        assert (at_close.session, at_close.timing) == (session, Timing.REGULAR)
    else:
        assert at_close.session == _next_session(calendar, session)
        assert at_close.timing is not Timing.REGULAR
    at_open = event_time(session_open(calendar, session) + delta, calendar)
    assert at_open.session == session
    assert (at_open.timing is Timing.REGULAR) == (delta >= timedelta(0))


@PROPERTY_SETTINGS
@given(day=session_dates, calendar=st.sampled_from(EXCHANGES))
def test_date_only_session_is_the_first_session_on_or_after_the_date(day: date, calendar: str) -> None:
    result = event_time(datetime.combine(day, time(), UTC), calendar, date_only=True)
    assert result.timing is Timing.DATE_ONLY
    assert result.session >= day
    assert is_session(calendar, result.session)
    assert as_dates(sessions_in_range(calendar, day, result.session)) == [result.session]


@PROPERTY_SETTINGS
@given(published_at=aware_times, date_only=st.booleans())
def test_24_7_session_is_the_utc_date(published_at: datetime, date_only: bool) -> None:
    result = event_time(published_at, CALENDAR_24_7, date_only=date_only)
    assert result.session == published_at.astimezone(UTC).date()
    assert result.timing is (Timing.DATE_ONLY if date_only else Timing.CONTINUOUS)
    assert session_open(CALENDAR_24_7, result.session) <= published_at
    assert published_at < session_close(CALENDAR_24_7, result.session)


@PROPERTY_SETTINGS
@given(now=aware_times, calendar=st.sampled_from([*EXCHANGES, CALENDAR_24_7]))
def test_last_closed_session_is_the_latest_close_at_or_before_now(now: datetime, calendar: str) -> None:
    last = last_closed_session(calendar, now)
    assert is_session(calendar, last)
    assert session_close(calendar, last) <= now
    assert session_close(calendar, _next_session(calendar, last)) > now


@PROPERTY_SETTINGS
@given(
    start=session_dates,
    span=st.integers(min_value=0, max_value=40),
    calendar=st.sampled_from([*EXCHANGES, CALENDAR_24_7]),
)
def test_sessions_in_range_agrees_with_is_session(start: date, span: int, calendar: str) -> None:
    end = start + timedelta(days=span)
    expected = [
        start + timedelta(days=i)
        for i in range(span + 1)
        if is_session(calendar, start + timedelta(days=i))
    ]
    assert as_dates(sessions_in_range(calendar, start, end)) == expected


# --------------------------------------------------------------------------- #
# Any instant, 2005 to 2030: the session is the local day's, or the next one
# --------------------------------------------------------------------------- #

utc_instants = st.datetimes(
    min_value=datetime(2005, 1, 1),
    max_value=datetime(2030, 12, 31, 23, 59, 59, 999999),
    timezones=st.just(UTC),
)
ANY_CALENDAR = ["XNYS", "XNAS", "XLON", "XTKS", CALENDAR_24_7, FUTURES_CALENDAR]
TIMINGS = {
    CALENDAR_24_7: {CONT},
    **{cal: {PRE, REG, AFTER, CLOSED} for cal in ANY_CALENDAR if cal != CALENDAR_24_7},
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instant=utc_instants, calendar=st.sampled_from(ANY_CALENDAR))
def test_session_is_the_local_days_or_the_next_one(instant: datetime, calendar: str) -> None:
    result = event_time(instant, calendar)
    session = result.session
    local_day = instant.astimezone(calendar_tz(calendar)).date()
    # the first session strictly after the instant's local date
    next_after = as_dates(
        sessions_in_range(calendar, local_day + timedelta(days=1), local_day + timedelta(days=20))
    )[0]
    assert is_session(calendar, session)
    assert result.timing in TIMINGS[calendar]
    assert session >= local_day  # never before the local date's session
    assert session <= next_after  # at most the next session
    if not is_session(calendar, local_day):
        assert session == next_after
    # it is the session containing the instant or the next one to open: open
    # or not, it has not closed, and the session before it has.
    assert session_close(calendar, session) > instant
    assert session_close(calendar, _previous_session(calendar, session)) <= instant


# --------------------------------------------------------------------------- #
# Which calendar an instrument trades on
# --------------------------------------------------------------------------- #

CALENDAR_FOR = [
    # (symbol, exchange, asset_class, calendar)
    # US listings: Nasdaq in any spelling -> XNAS; every other US market, or none -> XNYS
    ("AAPL", "Nasdaq", None, "XNAS"),
    ("MSFT", "NasdaqGS", None, "XNAS"),
    ("ABCD", "NASDAQ Capital Market", None, "XNAS"),
    ("NVDA", "NMS", None, "XNAS"),
    ("ABCD", "nasdaq", None, "XNAS"),
    ("JPM", "NYSE", None, "XNYS"),
    ("SPY", "NYSE Arca", None, "XNYS"),
    ("IMO", "NYSE American", None, "XNYS"),
    ("ABCD", "NYSEArca", None, "XNYS"),
    ("ABCD", "CBOE", None, "XNYS"),
    ("ABCD", "Cboe BZX", None, "XNYS"),
    ("ABCD", "BATS", None, "XNYS"),
    ("ABCD", "OTC", None, "XNYS"),
    ("ABCD", "NYQ", None, "XNYS"),
    ("CXW", None, None, "XNYS"),
    ("CXW", "", None, "XNYS"),
    ("BRK-B", None, None, "XNYS"),
    ("BAC-PA", None, "equity", "XNYS"),  # a preferred share, not a crypto pair
    ("BRK.B", "NYSE", None, "XNYS"),  # a dotted class share on a known exchange
    ("SPY", None, AssetClass.ETF, "XNYS"),
    # crypto and FX trade around the clock
    ("BTC-USD", None, None, CALENDAR_24_7),
    ("ETH-USD", None, None, CALENDAR_24_7),
    ("SOL-EUR", None, None, CALENDAR_24_7),
    ("SUI20947-USD", None, None, CALENDAR_24_7),
    ("ETH-BTC", None, None, CALENDAR_24_7),
    ("BTC-USD", "CCC", None, CALENDAR_24_7),
    ("DOGE", None, "crypto", CALENDAR_24_7),
    ("XYZ", None, AssetClass.CRYPTO, CALENDAR_24_7),
    ("EURUSD=X", None, None, CALENDAR_24_7),
    ("JPY=X", None, None, CALENDAR_24_7),
    ("gbpusd=x", None, None, CALENDAR_24_7),
    # futures and indices
    ("GC=F", None, None, FUTURES_CALENDAR),
    ("CL=F", None, None, FUTURES_CALENDAR),
    ("ES=F", None, None, FUTURES_CALENDAR),
    ("^GSPC", None, "index", "XNYS"),
    ("^IXIC", None, None, "XNAS"),
    ("^FTSE", None, None, "XLON"),
    ("^N225", None, None, "XTKS"),
    ("^XYZ", "NYSE", None, "XNYS"),
    # Yahoo suffixes
    ("SHOP.TO", None, None, "XTSE"),
    ("ABC.V", None, None, "XTSE"),
    ("VOD.L", None, None, "XLON"),
    ("vod.l", None, None, "XLON"),
    ("SAP.DE", None, None, "XETR"),
    ("SAP.F", None, None, "XFRA"),
    ("MC.PA", None, None, "XPAR"),
    ("ASML.AS", None, None, "XAMS"),
    ("ABI.BR", None, None, "XBRU"),
    ("GALP.LS", None, None, "XLIS"),
    ("ENI.MI", None, None, "XMIL"),
    ("SAN.MC", None, None, "XMAD"),
    ("NESN.SW", None, None, "XSWX"),
    ("OMV.VI", None, None, "XWBO"),
    ("NOVO-B.CO", None, None, "XCSE"),
    ("VOLV-B.ST", None, None, "XSTO"),
    ("EQNR.OL", None, None, "XOSL"),
    ("NOKIA.HE", None, None, "XHEL"),
    ("RYA.IR", None, None, "XDUB"),
    ("0700.HK", None, None, "XHKG"),
    ("7203.T", None, None, "XTKS"),
    ("005930.KS", None, None, "XKRX"),
    ("600519.SS", None, None, "XSHG"),
    ("000001.SZ", None, None, "XSHG"),
    ("BHP.AX", None, None, "XASX"),
    ("FPH.NZ", None, None, "XNZE"),
    ("D05.SI", None, None, "XSES"),
    ("BBCA.JK", None, None, "XIDX"),
    ("RELIANCE.BO", None, None, "XBOM"),
    ("RELIANCE.NS", None, None, "XBOM"),
    ("TEVA.TA", None, None, "XTAE"),
    ("NPN.JO", None, None, "XJSE"),
    ("PETR4.SA", None, None, "BVMF"),
    ("WALMEX.MX", None, None, "XMEX"),
    ("PKO.WA", None, None, "XWAR"),
    ("THYAO.IS", None, None, "XIST"),
    ("2330.TW", None, None, "XTAI"),
    ("SHOP.TO", "NYSE", None, "XTSE"),  # the Yahoo suffix names the listing
    # an exchange_calendars code or alias as the exchange
    ("VOD", "LSE", None, "XLON"),
    ("RY", "TSX", None, "XTSE"),
    ("SAP", "XETR", None, "XETR"),
]


@pytest.mark.parametrize(
    ("symbol", "exchange", "asset_class", "expected"),
    [pytest.param(*row, id=f"{row[0]} {row[1] or ''} {row[2] or ''}".strip()) for row in CALENDAR_FOR],
)
def test_calendar_for(symbol: str, exchange: str | None, asset_class: str | None, expected: str) -> None:
    assert calendar_for(symbol, exchange=exchange, asset_class=asset_class) == expected


@pytest.mark.parametrize(("suffix", "code"), sorted(SUFFIX_CALENDARS.items()))
def test_every_suffix_calendar_builds(suffix: str, code: str) -> None:
    assert suffix.startswith(".") and suffix == suffix.upper()
    assert calendar_for(f"ABC{suffix}") == code
    assert xcals.resolve_alias(code) == code  # a canonical code, not an alias
    assert isinstance(calendar_tz(code), ZoneInfo)
    # the grid covers 2026 (XTAE starts on 2026-01-05, XSHG, XBOM, XSES end 2026-12-31)
    last = last_closed_session(code, utc(2026, 6, 1))
    assert is_session(code, last)
    assert D("2026-05-01") < last < D("2026-06-01")


@pytest.mark.parametrize("code", sorted({*INDEX_CALENDARS.values(), FUTURES_CALENDAR}))
def test_index_and_futures_calendars_build(code: str) -> None:
    assert is_session(code, last_closed_session(code, utc(2026, 6, 1)))


@pytest.mark.parametrize(
    ("symbol", "exchange", "match"),
    [
        pytest.param("FOO.XX", None, r"unknown Yahoo suffix '\.XX' in symbol 'FOO\.XX'", id="unknown suffix"),
        pytest.param("BRK.B", None, r"unknown Yahoo suffix '\.B' in symbol 'BRK\.B'", id="dotted class, no exchange"),
        pytest.param("FOO.XX", "Mars", r"unknown Yahoo suffix '\.XX'", id="unknown suffix and exchange"),
        pytest.param("OPAP.AT", None, r"'\.AT'.*ASEX.*cannot build", id="calendar that does not build"),
        pytest.param("SAP", "Mars", r"unknown exchange 'Mars' for symbol 'SAP'", id="unknown exchange"),
        pytest.param("^XYZ", None, r"index '\^XYZ'", id="unknown index"),
        pytest.param("^XYZ", "Mars", r"unknown exchange 'Mars' for symbol '\^XYZ'", id="index, unknown exchange"),
        pytest.param("  ", None, "without a symbol", id="empty symbol"),
    ],
)
def test_calendar_for_refuses_what_it_does_not_know(symbol: str, exchange: str | None, match: str) -> None:
    with pytest.raises(CalendarError, match=match):
        calendar_for(symbol, exchange=exchange)


def test_unknown_suffix_error_lists_the_known_ones() -> None:
    with pytest.raises(CalendarError) as info:
        calendar_for("FOO.XX")
    assert ".L" in str(info.value) and ".TO" in str(info.value)


def test_saturday_news_moves_crypto_on_saturday_and_equities_on_monday() -> None:
    saturday = utc(2025, 2, 8, 14, 0)
    crypto = event_time(saturday, calendar_for("BTC-USD"))
    equity = event_time(saturday, calendar_for("AAPL", exchange="Nasdaq"))
    assert (crypto.session, crypto.timing) == (D("2025-02-08"), CONT)
    assert (equity.session, equity.timing) == (D("2025-02-10"), CLOSED)


def test_alias_shares_the_canonical_grid(built: list[str]) -> None:
    assert event_time(ny(2025, 2, 4, 10, 0), "XNAS").calendar == "XNAS"
    assert event_time(ny(2025, 2, 4, 10, 0), "XNYS").calendar == "XNYS"
    assert calendar_tz("XNAS") == NY
    assert built == ["XNYS"]
    # messages name the calendar the caller used
    with pytest.raises(CalendarError, match="the XNAS calendar covers"):
        is_session("XNAS", D("1999-06-01"))


def test_xtae_builds_from_2026() -> None:
    # exchange_calendars cannot build XTAE before the TASE's 2026 switch to a
    # Monday-Friday week; the grid starts there and earlier dates are refused.
    jerusalem = ZoneInfo("Asia/Jerusalem")
    assert event_time(datetime(2026, 3, 8, 12, 0, tzinfo=jerusalem), "XTAE") == EventTime(
        session=D("2026-03-09"), timing=CLOSED, calendar="XTAE"
    )  # Sunday: no longer a session
    assert is_session("XTAE", D("2026-03-06"))  # Friday now is
    with pytest.raises(CalendarError, match="outside the range the XTAE calendar covers"):
        event_time(utc(2025, 6, 1, 10), "XTAE")
