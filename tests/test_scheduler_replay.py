"""A simulated trading day: the real scheduler's jobs, triggers and store, on a manual clock.

2025-02-04 (a Tuesday) from 09:30 to 17:00 New York time runs in seconds:
passes every 15 minutes poll a local feed, which publishes a GEO story at
15:59 (before the close: day 0 is that session) and a CoreCivic story at
16:05 (after the close: day 0 is the next session); alerts go to a local
webhook receiver and an SMTP server; the digest is built at 16:30 and
e-mailed. Every job, event, alert and the digest are checked exactly.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import feed_server
from local_services import SMTPServer, WebhookServer
from monitor import clock
from monitor.config import load_settings
from monitor.scheduler import simulate
from monitor.store import db
from monitor.store.schema import alert_deliveries, alerts, digests, events, job_runs

NY = ZoneInfo("America/New_York")
UTC = timezone.utc
DAY = date(2025, 2, 4)
OPEN = datetime(2025, 2, 4, 9, 30, tzinfo=NY)
END = datetime(2025, 2, 4, 17, 0, tzinfo=NY)
GEO_AT = datetime(2025, 2, 4, 15, 59, tzinfo=NY)
CXW_AT = datetime(2025, 2, 4, 16, 5, tzinfo=NY)

STORIES = [
    (GEO_AT, "geo-1559", "GEO Group wins a new federal detention contract",
     "The GEO Group, Inc. GEO said on Tuesday it won a five-year federal detention contract."),
    (CXW_AT, "cxw-1605", "CoreCivic raises its outlook after the bell",
     "CoreCivic, Inc. CXW raised its full-year outlook after the close on Tuesday."),
]


def feed_at(now: datetime) -> bytes:
    """The desk's RSS feed as it reads at ``now``: only the stories already published."""
    items = "".join(
        f"<item><title>{title}</title><guid>{guid}</guid><link>https://news.example.com/{guid}</link>"
        f"<pubDate>{format_datetime(when.astimezone(UTC))}</pubDate><description>{body}</description></item>"
        for when, guid, title, body in STORIES if when <= now
    )
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>desk</title>{items}'
            f"</channel></rss>").encode()


@pytest.fixture
def day(workdir: Path, seeds_copy: Path, db_url: str, monkeypatch: pytest.MonkeyPatch):
    """Services up, monitor.toml written; yields what the replay needs."""
    hook = WebhookServer()
    mail = SMTPServer()
    with feed_server.serve() as server:
        url = server.url("/desk.rss")
        (workdir / "monitor.toml").write_text(f"""
database_url = "{db_url}"
seeds_dir = "{seeds_copy}"
allow_private_feeds = true
pass_interval_seconds = 900
alert_interval_seconds = 300
digest_time = "16:30"
digest_dir = "{workdir / 'digests'}"
digest_to = ["desk@example.com"]
smtp_host = "127.0.0.1"
smtp_port = {mail.port}
smtp_starttls = false

[themes]
"private prisons" = ["CXW", "GEO"]

[[feeds]]
name = "desk"
url = "{url}"
interval_seconds = 900

[[alert_rules]]
name = "prison-news"
kind = "new_article"
theme = "private prisons"
min_relevance = 50
channels = ["hook", "mail"]

[[alert_channels]]
name = "hook"
kind = "webhook"
url = "{hook.url}"

[[alert_channels]]
name = "mail"
kind = "email"
to = ["desk@example.com"]
""")
        try:
            yield server, hook, mail, db_url
        finally:
            hook.close()
            mail.stop()


def _run_times(first: datetime, every: timedelta, last: datetime) -> list[datetime]:
    out, t = [], first
    while t <= last:
        out.append(t.astimezone(UTC))
        t += every
    return out


def test_a_simulated_trading_day(day) -> None:
    server, hook, mail, db_url = day
    published: list[datetime] = []

    def publish(now: datetime) -> None:
        published.append(now)
        server.add("/desk.rss", feed_at(now))

    settings = load_settings()
    fired = simulate(settings, OPEN, END, on_time=publish)

    # The jobs: exactly the runs the triggers give, each fine, and the clock back to the wall's.
    assert not clock.simulated()
    assert all(f.status == "ok" for f in fired), [f for f in fired if f.status != "ok"]
    by_job: dict[str, list[datetime]] = {}
    for f in fired:
        by_job.setdefault(f.job, []).append(f.at)
    assert by_job["run_pass"] == _run_times(OPEN, timedelta(minutes=15), END)
    assert by_job["deliver_alerts"] == _run_times(OPEN + timedelta(minutes=5), timedelta(minutes=5), END)
    assert by_job["build_digest"] == [datetime(2025, 2, 4, 16, 30, tzinfo=NY).astimezone(UTC)]
    assert len(fired) == 31 + 90 + 1

    engine = db.open_store(db_url)
    try:
        with engine.connect() as conn:
            runs = conn.execute(select(job_runs).order_by(job_runs.c.id)).mappings().all()
            evs = conn.execute(select(events)).mappings().all()
            raised = conn.execute(select(alerts).order_by(alerts.c.id)).mappings().all()
            deliveries = conn.execute(select(alert_deliveries)).mappings().all()
            digest_rows = conn.execute(select(digests)).mappings().all()
    finally:
        engine.dispose()

    # job_runs: one row per run, stamped with the simulated time, all ok.
    assert Counter(r["job"] for r in runs) == {"pass": 31, "alerts": 90, "digest": 1}
    assert {r["status"] for r in runs} == {"ok"}
    assert min(r["started_at"] for r in runs) == OPEN.astimezone(UTC)
    assert max(r["started_at"] for r in runs) == END.astimezone(UTC)

    # Events: the 15:59 story moves the 2025-02-04 session, the 16:05 one the next session.
    by_key = {(e["symbol"], e["session"]): e for e in evs}
    geo = [e for e in evs if e["published_at"] == GEO_AT.astimezone(UTC)]
    cxw = [e for e in evs if e["published_at"] == CXW_AT.astimezone(UTC)]
    assert [(e["symbol"], e["session"], e["timing"]) for e in geo] == [("GEO", DAY, "regular")]
    assert [(e["symbol"], e["session"], e["timing"]) for e in cxw] == [("CXW", date(2025, 2, 5), "after_hours")]
    assert ("CXW", DAY) in by_key and ("GEO", DAY) in by_key  # the seeds article, date only

    # Alerts: one per event and rule, the seeds article's at the first pass, the stories' at the pass after them.
    made = [(a["symbol"], a["created_at"]) for a in raised]
    at = {s: t for s, t in made if t != OPEN.astimezone(UTC)}
    assert sorted(s for s, t in made if t == OPEN.astimezone(UTC)) == ["CXW", "GEO"]
    assert at == {"GEO": datetime(2025, 2, 4, 16, 0, tzinfo=NY).astimezone(UTC),
                  "CXW": datetime(2025, 2, 4, 16, 15, tzinfo=NY).astimezone(UTC)}
    assert len(raised) == 4 and all(a["rule"] == "prison-news" for a in raised)
    assert len(deliveries) == 8 and {d["status"] for d in deliveries} == {"sent"}

    # Each alert reached the webhook and the inbox exactly once.
    texts = [b["text"] for b in hook.bodies]
    assert len(texts) == 4 and len(set(texts)) == 4
    assert any("GEO Group wins a new federal detention contract" in t for t in texts)
    assert any("CoreCivic raises its outlook after the bell" in t for t in texts)
    alert_mails = [m for m in mail.handler.messages if "digest" not in m["Subject"].lower()]
    digest_mails = [m for m in mail.handler.messages if "digest" in m["Subject"].lower()]
    assert len(alert_mails) == 4

    # The digest: built once at 16:30 for 2025-02-04, e-mailed once, naming both stories.
    assert len(digest_rows) == 1 and digest_rows[0]["day"] == DAY
    assert len(digest_mails) == 1
    text = digest_mails[0].get_body(("plain",)).get_content()
    assert "GEO Group wins a new federal detention contract" in text
    assert "CoreCivic raises its outlook after the bell" in text
    html_file = Path(digest_rows[0]["html_path"])
    assert html_file.exists() and "2025-02-04" in html_file.name

    # The clock moved from one due time to the next, and every pass polled the feed once.
    assert published[0] == OPEN.astimezone(UTC) and published == sorted(set(published))
    assert set(by_job["run_pass"]) <= set(published)
    assert len(server.requests_for("/desk.rss")) == 31
