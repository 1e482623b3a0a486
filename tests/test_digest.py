"""The daily digest: built from a store filled by the real pipeline on the seeds, written, e-mailed."""

from __future__ import annotations

import email
import socket
import threading
from datetime import date, datetime, timezone
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from monitor import figures
from monitor.config import load_settings
from monitor.digest import DigestEmailError, build_digest, email_digest, run_digest, write_digest
from monitor.pipeline import Pipeline
from monitor.store import db
from monitor.store.schema import alerts, digests

DAY = date(2025, 2, 4)
NOW = datetime(2025, 3, 3, 21, 30, tzinfo=timezone.utc)
EVIL = "<img src=x onerror=alert(1)>"
PLOTLY_BANNER = "* plotly.js v"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping every message received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.rcpt: list[list[str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802 - aiosmtpd hook
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                          policy=default_policy))
            self.rcpt.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def smtp_server(smtp_port: int):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def make_settings(db_url: str, seeds: Path, tmp_path: Path, port: int, **extra):
    return load_settings(
        database_url=db_url, seeds_dir=seeds, digest_dir=tmp_path / "digests", digest_to=["desk@example.com"],
        smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False, **extra,
    )


@pytest.fixture
def filled(db_url: str, seeds_copy: Path, tmp_path: Path, smtp_port: int):
    """(settings, engine) of a store the pipeline filled from the seeds."""
    settings = make_settings(db_url, seeds_copy, tmp_path, smtp_port)
    engine = db.open_store(db_url)
    Pipeline(settings, engine).run_pass(now=NOW)
    yield settings, engine
    engine.dispose()


def build(settings, engine, day: date = DAY):
    with engine.connect() as conn:
        return build_digest(conn, settings, day)


# Content --------------------------------------------------------------------
def test_digest_tables_and_charts(filled) -> None:
    settings, engine = filled
    digest = build(settings, engine)
    page = digest.html
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for needle in ("CXW", "GEO", "-6.75%", "-9.36%", "-2.00", "-2.48", "BTC-USD", "insufficient history"):
        assert needle in page, needle
        assert needle in digest.text, needle
    # The seed headline, escaped (it has an apostrophe and double quotes).
    assert "El Salvador&#x27;s President Nayib Bukele" in page
    assert "&quot;unprecedented&quot;" in page
    # GEO moved more than CXW: it leads the movers table.
    movers_text = digest.text.split("Biggest abnormal movers", 1)[1].split("Stories", 1)[0]
    assert movers_text.index("GEO") < movers_text.index("CXW")
    # plotly.js embedded inline exactly once, one div per chart: movers bar + a price chart per mover.
    assert page.count(PLOTLY_BANNER) == 1
    assert digest.counts["charts"] == 3
    assert page.count('class="plotly-graph-div"') == 3
    assert "<script src=" not in page  # nothing loaded from elsewhere: opens offline
    assert digest.counts["movers"] == 2 and digest.counts["stories"] == 3
    assert "2025-02-04" in digest.subject and "no alerts raised" in digest.text
    # The e-mail's HTML part has the tables but no charts and no plotly.js.
    assert "-6.75%" in digest.email_html and PLOTLY_BANNER not in digest.email_html
    assert len(digest.email_html) < 100_000


def test_hostile_headline_is_escaped_everywhere(db_url: str, seeds_copy: Path, tmp_path: Path, smtp_port: int) -> None:
    (seeds_copy / "news" / "evil.txt").write_text(
        f"date 2025-02-04T15:00:00-05:00 CoreCivic shares slide {EVIL} after the El Salvador offer\n\n"
        "CoreCivic, Inc. fell as investors weighed the offer. CoreCivic runs prisons.\n",
        encoding="utf-8",
    )
    settings = make_settings(db_url, seeds_copy, tmp_path, smtp_port)
    engine = db.open_store(db_url)
    try:
        Pipeline(settings, engine).run_pass(now=NOW)
        with engine.begin() as conn:
            conn.execute(alerts.insert().values(
                dedup_key="x1", rule="prisons", kind="new_article", symbol="CXW", article_key=None,
                title=f"CXW: {EVIL}", text=EVIL, payload={}, created_at=datetime(2025, 2, 4, 20, 5, tzinfo=timezone.utc),
            ))
        digest = build(settings, engine)
    finally:
        engine.dispose()
    assert "CoreCivic shares slide" in digest.html
    assert EVIL not in digest.html and EVIL not in digest.email_html
    assert "<img" not in digest.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in digest.html
    assert digest.counts["alerts"] == 1
    assert "prisons" in digest.html
    # The text version carries the headline as typed.
    assert EVIL in digest.text


def test_day_without_events(filled) -> None:
    settings, engine = filled
    digest = build(settings, engine, date(2025, 2, 8))
    assert digest.counts == {"stories": 0, "articles": 0, "tickers": 0, "movers": 0, "alerts": 0, "charts": 0}
    assert "No news events on 2025-02-08" in digest.html and "No news events on 2025-02-08" in digest.text
    assert "no news events" in digest.subject and "2025-02-08" in digest.subject
    assert PLOTLY_BANNER not in digest.html
    html_path, text_path = write_digest(digest, settings.digest_dir)
    assert html_path.name == "digest-2025-02-08.html" and text_path.name == "digest-2025-02-08.txt"


def test_write_digest_files(filled, tmp_path: Path) -> None:
    settings, engine = filled
    digest = build(settings, engine)
    html_path, text_path = write_digest(digest, tmp_path / "out" / "nested")
    assert html_path == tmp_path / "out" / "nested" / "digest-2025-02-04.html"
    assert html_path.read_text(encoding="utf-8") == digest.html
    assert text_path.read_text(encoding="utf-8") == digest.text


# E-mail ---------------------------------------------------------------------
def test_email_digest_received(filled, smtp_server: Inbox) -> None:
    settings, engine = filled
    digest = build(settings, engine)
    email_digest(digest, settings)
    assert len(smtp_server.messages) == 1
    msg = smtp_server.messages[0]
    assert smtp_server.rcpt[0] == ["desk@example.com"]
    assert msg.get_content_type() == "multipart/alternative"
    assert "2025-02-04" in msg["Subject"]
    parts = {p.get_content_type(): p.get_content() for p in msg.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "-9.36%" in parts["text/plain"] and "-9.36%" in parts["text/html"]
    assert PLOTLY_BANNER not in parts["text/html"]


def test_email_failure_is_one_clear_line(filled) -> None:
    settings, engine = filled
    digest = build(settings, engine)
    with pytest.raises(DigestEmailError) as err:
        email_digest(digest, settings)  # nothing listens on the port
    message = str(err.value)
    assert "\n" not in message and "2025-02-04" in message and f"127.0.0.1:{settings.smtp_port}" in message


def digest_row(engine, day: date = DAY) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(select(digests).where(digests.c.day == day)).mappings().one())


def test_run_digest_retries_failed_email_and_never_resends(filled, smtp_port: int) -> None:
    settings, engine = filled
    # SMTP down: recorded as failed, files kept.
    first = run_digest(engine, settings, DAY)
    assert first["email_status"] == "failed" and first["email_attempts"] == 1 and not first["emailed"]
    assert "127.0.0.1" in first["email_error"]
    assert Path(first["html_path"]).is_file() and Path(first["text_path"]).is_file()
    row = digest_row(engine)
    assert row["email_status"] == "failed" and row["email_attempts"] == 1 and row["email_error"]
    assert row["html_path"] == first["html_path"]

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        second = run_digest(engine, settings, DAY)
        assert second["email_status"] == "sent" and second["email_attempts"] == 2 and second["emailed"]
        assert len(inbox.messages) == 1
        row = digest_row(engine)
        assert row["email_status"] == "sent" and row["email_attempts"] == 2 and row["email_error"] is None
        assert row["emailed_at"] is not None
        # Already sent: a new run rewrites the files but sends nothing.
        third = run_digest(engine, settings, DAY)
        assert third["email_status"] == "sent" and third["email_attempts"] == 2 and not third["emailed"]
        assert len(inbox.messages) == 1
        # Unless forced.
        forced = run_digest(engine, settings, DAY, force=True)
        assert forced["email_status"] == "sent" and forced["email_attempts"] == 3 and forced["emailed"]
        assert len(inbox.messages) == 2
    finally:
        controller.stop()
    assert first["counts"]["movers"] == 2


def test_run_digest_without_recipients_or_sending(filled, tmp_path: Path) -> None:
    settings, engine = filled
    quiet = settings.model_copy(update={"digest_to": []})
    out = run_digest(engine, quiet, DAY)
    assert out["email_status"] == "none" and out["email_attempts"] == 0
    assert digest_row(engine)["email_status"] == "none"
    out = run_digest(engine, settings, DAY, send=False)
    assert out["email_status"] == "none" and not out["emailed"]
    empty = run_digest(engine, quiet, date(2025, 2, 8))
    assert empty["counts"]["stories"] == 0 and Path(empty["html_path"]).is_file()


# Figures --------------------------------------------------------------------
def test_figures_escape_text_and_build() -> None:
    sessions = pd.to_datetime(["2025-02-03", "2025-02-04", "2025-02-05"])
    bars = pd.DataFrame({"session": sessions, "ts": sessions.tz_localize("UTC"), "close": [10.0, 9.0, 9.5]})
    bench = bars.assign(close=[100.0, 101.0, 102.0])
    fig = figures.price_chart(bars, "CXW", benchmark_bars=bench, benchmark="SPY",
                              markers=[(date(2025, 2, 4), EVIL), (date(2025, 1, 1), "before the data")])
    assert [t.name for t in fig.data] == ["CXW", "SPY (rebased)", "news"]
    assert list(fig.data[1].y) == [10.0, 10.1, 10.2]
    assert list(fig.data[2].hovertext) == ["&lt;img src=x onerror=alert(1)&gt;"]
    assert fig.data[2].y[0] == 9.0
    assert EVIL not in fig.to_json().replace("\\u003c", "<").replace("\\u003e", ">")

    curve = figures.car_curve(pd.Series([0.01, -0.02, 0.005], index=[-1, 0, 1], name="CXW"), "CAR of CXW")
    assert [round(v, 6) for v in curve.data[0].y] == [1.0, -1.0, -0.5]

    bar = figures.movers_bar([{"symbol": "GEO", "abnormal_return": -0.0936, "t_stat": -2.48, "title": EVIL},
                              {"symbol": "X", "abnormal_return": None}])
    assert list(bar.data[0].x) == ["GEO"] and "t -2.48" in bar.data[0].hovertext[0]
    assert "&lt;img" in bar.data[0].hovertext[0]

    assert figures.price_chart(bars.iloc[0:0], "NONE").layout.annotations
