"""Alerts end to end: rules on a store filled by the real pipeline, delivered to real local services.

The webhook is a local ``http.server`` in a thread; e-mail goes to an aiosmtpd
server on 127.0.0.1. Time is driven by ``now`` (deliveries wait for their
``next_attempt_at``), never by sleeping.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from local_services import SMTPServer, WebhookServer
from monitor import alerts as al
from monitor.config import AlertChannel, AlertRule, Settings, load_settings
from monitor.errors import ConfigError
from monitor.pipeline import Pipeline
from monitor.store import db
from monitor.store.schema import alert_deliveries, articles, event_reactions, events
from monitor.store.schema import alerts as alerts_table

PASS_AT = datetime(2025, 3, 3, 21, 30, tzinfo=timezone.utc)
NOW = datetime(2025, 3, 3, 22, 0, tzinfo=timezone.utc)
THEMES = {"private prisons": ["CXW", "GEO"]}
HEADLINE_START = "El Salvador's President Nayib Bukele says"
LINK = "https://example.com/news/el-salvador-prison-offer"


# Local services -------------------------------------------------------------------
@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    yield server
    server.close()


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    yield server
    server.stop()


# The store ---------------------------------------------------------------------------
@pytest.fixture
def store(workdir: Path, db_url: str, seeds_copy: Path) -> Iterator[tuple[str, Path, Engine]]:
    """The seeds through the real pipeline: CXW and GEO (and BTC-USD) events on 2025-02-04."""
    settings = load_settings(database_url=db_url, seeds_dir=seeds_copy, themes=THEMES)
    engine = db.open_store(db_url)
    Pipeline(settings, engine).run_pass(now=PASS_AT)
    yield db_url, seeds_copy, engine
    engine.dispose()


def make_settings(store: tuple[str, Path, Engine], **over: Any) -> Settings:
    db_url, seeds, _ = store
    base: dict[str, Any] = {"database_url": db_url, "seeds_dir": seeds, "themes": THEMES, "smtp_starttls": False}
    base.update(over)
    return load_settings(**base)


def prison_rule(**over: Any) -> AlertRule:
    args: dict[str, Any] = {"name": "prisons", "kind": "abnormal_return", "theme": "private prisons",
                            "min_abs_return": 0.03, "min_abs_t": 1.99, "window": "0:0"}
    args.update(over)
    return AlertRule(**args)


def deliveries(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        q = (
            select(alert_deliveries, alerts_table.c.symbol, alerts_table.c.rule)
            .join(alerts_table, alerts_table.c.id == alert_deliveries.c.alert_id)
            .order_by(alert_deliveries.c.id)
        )
        return [dict(r) for r in conn.execute(q).mappings()]


def raised(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(alerts_table).order_by(alerts_table.c.id)).mappings()]


# Raising ---------------------------------------------------------------------------------
def test_theme_abnormal_return_raises_each_once(store) -> None:
    _, _, engine = store
    # CXW's day-0 t is -1.9998 (shown as -2.00): a |t| >= 2 rule is exact and leaves it out.
    settings = make_settings(store, alert_rules=[prison_rule(), prison_rule(name="strict", min_abs_t=2.0)])
    ids = al.evaluate(engine, settings, NOW)
    rows = raised(engine)
    assert len(ids) == 3 and sorted(r["id"] for r in rows) == sorted(ids)
    assert sorted((r["rule"], r["symbol"]) for r in rows) == [("prisons", "CXW"), ("prisons", "GEO"), ("strict", "GEO")]

    geo = next(r for r in rows if r["rule"] == "prisons" and r["symbol"] == "GEO")
    assert geo["text"].startswith(
        f"GEO -9.36% abnormal on 2025-02-04 (day 0, market model, t -2.48): {HEADLINE_START}"
    )
    cxw = next(r for r in rows if r["symbol"] == "CXW")
    assert cxw["text"].startswith("CXW -6.75% abnormal on 2025-02-04 (day 0, market model, t -2.00): ")
    p = geo["payload"]
    assert p["symbol"] == "GEO" and p["rule"] == "prisons" and p["kind"] == "abnormal_return"
    assert p["session"] == "2025-02-04" and p["window"] == "0:0"
    assert p["abnormal_return"] == pytest.approx(-0.0936, abs=1e-4)
    assert p["t_stat"] == pytest.approx(-2.48, abs=1e-2)
    assert p["relevance"] == pytest.approx(52.5)
    assert p["headline"].startswith(HEADLINE_START) and p["url"] is None
    assert p["article_key"] == geo["article_key"]
    assert datetime.fromisoformat(p["published_at"]).date().isoformat() == "2025-02-04"
    # every alert has one pending delivery on its channel (log by default), due now
    ds = deliveries(engine)
    assert len(ds) == 3 and {d["status"] for d in ds} == {"pending"} and {d["channel"] for d in ds} == {"log"}
    assert all(d["next_attempt_at"] == NOW for d in ds)

    assert al.evaluate(engine, settings, NOW + timedelta(hours=1)) == []
    assert len(raised(engine)) == 3 and len(deliveries(engine)) == 3


def test_incomplete_window_is_used_and_said(store) -> None:
    _, _, engine = store
    from monitor.store.schema import event_returns

    with engine.begin() as conn:
        conn.execute(update(event_returns).where(event_returns.c.symbol == "GEO").values(complete=False))
    al.evaluate(engine, make_settings(store, alert_rules=[prison_rule(tickers=["GEO"])]), NOW)
    (geo,) = raised(engine)
    assert "window not complete yet" in geo["text"] and geo["payload"]["complete"] is False


def test_new_article_rule(store) -> None:
    _, _, engine = store
    rules = [
        AlertRule(name="all-news", kind="new_article", min_relevance=50),
        AlertRule(name="prison-news", kind="new_article", theme="private prisons", min_relevance=50),
        AlertRule(name="geo-news", kind="new_article", tickers=["geo"], min_relevance=50),
        AlertRule(name="picky", kind="new_article", min_relevance=60),
    ]
    al.evaluate(engine, make_settings(store, alert_rules=rules), NOW)
    got = sorted((r["rule"], r["symbol"]) for r in raised(engine))
    assert got == [
        ("all-news", "BTC-USD"), ("all-news", "CXW"), ("all-news", "GEO"),
        ("geo-news", "GEO"),
        ("prison-news", "CXW"), ("prison-news", "GEO"),
    ]
    geo = next(r for r in raised(engine) if r["rule"] == "geo-news")
    assert geo["text"].startswith(f"GEO in the news on 2025-02-04 (relevance 52.5): {HEADLINE_START}")


def test_abnormal_volume_and_intraday_rules(store) -> None:
    _, _, engine = store
    with engine.connect() as conn:
        key = conn.execute(select(events.c.article_key).where(events.c.symbol == "GEO")).scalar_one()
    # The seeds hold no intraday bars: store two reactions as the intraday stage would.
    with engine.begin() as conn:
        conn.execute(event_reactions.insert(), [
            {"article_key": key, "symbol": "GEO", "horizon": "15m", "interval": "1m", "raw_return": -0.045,
             "benchmark_return": 0.001, "abnormal_return": -0.046, "complete": True, "computed_at": NOW},
            {"article_key": key, "symbol": "CXW", "horizon": "15m", "interval": "1m", "raw_return": -0.01,
             "benchmark_return": 0.001, "abnormal_return": -0.011, "complete": True, "computed_at": NOW},
            {"article_key": key, "symbol": "CXW", "horizon": "60m", "interval": "1m", "raw_return": -0.05,
             "benchmark_return": 0.001, "abnormal_return": -0.051, "complete": True, "computed_at": NOW},
        ])
    rules = [
        # GEO's day-0 volume is 1.40x its mean, CXW's 1.80x
        AlertRule(name="volume", kind="abnormal_volume", theme="private prisons", min_volume_ratio=1.5),
        AlertRule(name="fast", kind="intraday_move", within_minutes=10, min_abs_return=0.03),
    ]
    al.evaluate(engine, make_settings(store, alert_rules=rules), NOW)
    got = {(r["rule"], r["symbol"]): r for r in raised(engine)}
    assert set(got) == {("volume", "CXW"), ("fast", "GEO")}
    assert got[("volume", "CXW")]["text"].startswith("CXW volume 1.8x normal on 2025-02-04 (day 0, log ratio 0.59")
    fast = got[("fast", "GEO")]
    assert fast["text"].startswith("GEO -4.60% abnormal within 15 min of the story")
    assert fast["payload"]["window"] == "15m"
    assert al.intraday_horizon(15) == "15m" and al.intraday_horizon(16) == "60m" and al.intraday_horizon(61) == "close"


def test_unknown_channel_is_a_config_error(store) -> None:
    _, _, engine = store
    settings = make_settings(store, alert_rules=[prison_rule(channels=["log", "slack"])])
    with pytest.raises(ConfigError) as info:
        al.evaluate(engine, settings, NOW)
    message = str(info.value)
    assert "\n" not in message and "'prisons'" in message and "slack" in message
    assert raised(engine) == []


# Delivering ------------------------------------------------------------------------------
def all_channels(tmp_path: Path, webhook: WebhookServer, smtp: SMTPServer) -> dict[str, Any]:
    return {
        "alert_channels": [
            AlertChannel(name="file", kind="jsonl", path=tmp_path / "out" / "alerts.jsonl"),
            AlertChannel(name="hook", kind="webhook", url=webhook.url),
            AlertChannel(name="mail", kind="email", to=["desk@example.com", "ops@example.com"]),
        ],
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
    }


def test_alerts_reach_every_channel(store, tmp_path: Path, webhook, smtp, caplog) -> None:
    _, _, engine = store
    with engine.begin() as conn:
        conn.execute(update(articles).values(url=LINK))
    settings = make_settings(
        store, alert_rules=[prison_rule(channels=["log", "file", "hook", "mail"])],
        **all_channels(tmp_path, webhook, smtp),
    )
    al.evaluate(engine, settings, NOW)
    with caplog.at_level(logging.WARNING, logger="monitor.alerts"):
        report = al.deliver(engine, settings, NOW)
    assert (report.sent, report.retrying, report.failed) == (8, 0, 0)
    assert {d["status"] for d in deliveries(engine)} == {"sent"}
    assert all(d["delivered_at"] == NOW and d["attempts"] == 1 for d in deliveries(engine))

    geo_text = next(r["text"] for r in raised(engine) if r["symbol"] == "GEO")
    assert geo_text.startswith("GEO -9.36% abnormal on 2025-02-04 (day 0, market model, t -2.48): ")
    assert geo_text.endswith(LINK) and HEADLINE_START in geo_text

    logged = [r.getMessage() for r in caplog.records if r.name == "monitor.alerts" and r.levelno == logging.WARNING]
    assert sum(geo_text in m for m in logged) == 1

    lines = [json.loads(x) for x in (tmp_path / "out" / "alerts.jsonl").read_text().splitlines()]
    assert sorted(x["symbol"] for x in lines) == ["CXW", "GEO"]
    geo_line = next(x for x in lines if x["symbol"] == "GEO")
    assert geo_line["text"] == geo_text and geo_line["payload"]["url"] == LINK

    assert len(webhook.bodies) == 2
    body = next(b for b in webhook.bodies if b["text"].startswith("GEO"))
    assert body["text"] == geo_text
    assert any(b.get("text", {}).get("text") == geo_text for b in body["blocks"])

    assert len(smtp.handler.messages) == 2
    msg = next(m for m in smtp.handler.messages if "GEO" in m["Subject"])
    assert msg["Subject"] == "[monitor] GEO -9.36% abnormal on 2025-02-04 (day 0)"
    assert msg["From"] == settings.smtp_from and "desk@example.com" in msg["To"]
    assert geo_text in msg.get_content()
    assert sorted(smtp.handler.rcpts[0]) == ["desk@example.com", "ops@example.com"]

    # nothing is due any more: a second run sends nothing
    assert al.deliver(engine, settings, NOW + timedelta(days=1)).attempted == 0
    assert len(webhook.bodies) == 2 and len(smtp.handler.messages) == 2


def test_webhook_500_twice_then_delivered_once(store, tmp_path: Path, webhook, smtp) -> None:
    _, _, engine = store
    webhook.fail_first = 2
    settings = make_settings(
        store, alert_rules=[prison_rule(tickers=["GEO"], channels=["hook"])],
        **all_channels(tmp_path, webhook, smtp),
    )
    al.evaluate(engine, settings, NOW)

    r1 = al.deliver(engine, settings, NOW)
    assert (r1.sent, r1.retrying) == (0, 1) and "HTTP 500" in r1.errors[0]
    (d,) = deliveries(engine)
    assert d["status"] == "pending" and d["attempts"] == 1 and "HTTP 500" in d["last_error"]
    assert d["next_attempt_at"] == NOW + timedelta(seconds=30)

    # not yet due: nothing is tried
    assert al.deliver(engine, settings, NOW + timedelta(seconds=29)).attempted == 0
    assert webhook.requests == 1

    r2 = al.deliver(engine, settings, NOW + timedelta(seconds=30))
    assert r2.retrying == 1
    (d,) = deliveries(engine)
    assert d["attempts"] == 2 and d["next_attempt_at"] == NOW + timedelta(seconds=30 + 60)

    r3 = al.deliver(engine, settings, NOW + timedelta(seconds=90))
    assert r3.sent == 1
    (d,) = deliveries(engine)
    assert d["status"] == "sent" and d["attempts"] == 3 and d["last_error"] is None
    assert webhook.requests == 3 and len(webhook.bodies) == 1
    assert webhook.bodies[0]["text"].startswith("GEO -9.36% abnormal")

    assert al.deliver(engine, settings, NOW + timedelta(hours=5)).attempted == 0
    assert len(webhook.bodies) == 1


def test_smtp_down_then_back_nothing_lost_or_doubled(store, tmp_path: Path, webhook, smtp) -> None:
    _, _, engine = store
    settings = make_settings(
        store, alert_rules=[prison_rule(channels=["mail"])], **all_channels(tmp_path, webhook, smtp),
    )
    al.evaluate(engine, settings, NOW)
    smtp.stop()
    r1 = al.deliver(engine, settings, NOW)
    assert (r1.sent, r1.retrying, r1.failed) == (0, 2, 0)
    ds = deliveries(engine)
    assert all(d["status"] == "pending" and d["attempts"] == 1 and d["last_error"] for d in ds)
    assert all("Connection" in d["last_error"] or "refused" in d["last_error"].lower() for d in ds)

    smtp.start()
    r2 = al.deliver(engine, settings, NOW + timedelta(seconds=30))
    assert r2.sent == 2
    assert all(d["status"] == "sent" for d in deliveries(engine))
    subjects = sorted(m["Subject"] for m in smtp.handler.messages)
    assert subjects == [
        "[monitor] CXW -6.75% abnormal on 2025-02-04 (day 0)",
        "[monitor] GEO -9.36% abnormal on 2025-02-04 (day 0)",
    ]
    assert al.deliver(engine, settings, NOW + timedelta(hours=5)).attempted == 0
    assert len(smtp.handler.messages) == 2
    ids = [m["Message-ID"] for m in smtp.handler.messages]
    assert len(set(ids)) == 2 and all(i.startswith("<alert.") and i.endswith("@localhost>") for i in ids)


def test_resent_alert_keeps_its_message_id_and_idempotency_key(workdir: Path) -> None:
    """A copy sent again (a monitor died before recording the delivery) carries the same identifiers."""
    settings = load_settings(smtp_from="monitor@desk.example.com")
    alert = {"id": 7, "dedup_key": "prison-movers|abc|GEO", "title": "GEO moved", "text": "GEO -9.36%"}
    first, again = (al.email_message(settings, ["desk@example.com"], alert) for _ in range(2))
    other = al.email_message(settings, ["desk@example.com"], {**alert, "dedup_key": "prison-movers|abc|CXW"})
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]
    assert first["Message-ID"].endswith("@desk.example.com>")
    hook = WebhookServer()
    try:
        al.send_webhook(hook.url, alert)
        al.send_webhook(hook.url, alert)
    finally:
        hook.close()
    assert hook.keys == ["prison-movers|abc|GEO"] * 2


def test_failed_after_max_attempts(store, tmp_path: Path, webhook, smtp) -> None:
    _, _, engine = store
    webhook.fail_first = 10**6
    settings = make_settings(
        store, alert_rules=[prison_rule(tickers=["GEO"], channels=["hook", "log"])], alert_max_attempts=3,
        **all_channels(tmp_path, webhook, smtp),
    )
    al.evaluate(engine, settings, NOW)
    at = NOW
    for _ in range(5):
        al.deliver(engine, settings, at)
        at += timedelta(hours=2)
    by_channel = {d["channel"]: d for d in deliveries(engine)}
    assert by_channel["log"]["status"] == "sent"
    hook = by_channel["hook"]
    assert hook["status"] == "failed" and hook["attempts"] == 3 and "HTTP 500" in hook["last_error"]
    assert webhook.requests == 3


def test_backoff_doubles_and_caps() -> None:
    assert [al.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert al.backoff(8).total_seconds() == 3600 and al.backoff(30).total_seconds() == 3600


def test_a_claimed_delivery_is_not_sent_twice(store) -> None:
    """Two deliver runs that read the same due row: only the first one's claim wins."""
    _, _, engine = store
    settings = make_settings(store, alert_rules=[prison_rule(tickers=["GEO"])])
    al.evaluate(engine, settings, NOW)
    sent: list[str] = []

    def inner_sender(channel, alert, _settings) -> None:  # noqa: ANN001
        sent.append(alert["symbol"])

    def outer_sender(channel, alert, _settings) -> None:  # noqa: ANN001
        # while this run holds the delivery, another run finds nothing due
        assert al.deliver(engine, settings, NOW, sender=inner_sender).attempted == 0
        sent.append(alert["symbol"])

    assert al.deliver(engine, settings, NOW, sender=outer_sender).sent == 1
    assert sent == ["GEO"]


def test_send_test_and_list(store, tmp_path: Path, webhook, smtp) -> None:
    _, _, engine = store
    settings = make_settings(store, alert_rules=[prison_rule()], **all_channels(tmp_path, webhook, smtp))
    al.evaluate(engine, settings, NOW)  # pending alerts are not touched by the test send
    report = al.send_test(engine, settings, NOW)
    assert report["channels"] == {"log": "sent", "file": "sent", "hook": "sent", "mail": "sent"}
    assert (report["sent"], report["retrying"], report["failed"], report["errors"]) == (4, 0, 0, {})
    assert len(webhook.bodies) == 1 and webhook.bodies[0]["text"].startswith("TEST ")
    assert len(smtp.handler.messages) == 1 and smtp.handler.messages[0]["Subject"] == "[monitor] test alert"
    assert json.loads((tmp_path / "out" / "alerts.jsonl").read_text())["rule"] == "test"

    with engine.connect() as conn:
        listed = al.list_alerts(conn, limit=10)
    assert [a["rule"] for a in listed][0] in ("test", "prisons")
    test = next(a for a in listed if a["rule"] == "test")
    assert {d["channel"]: d["status"] for d in test["deliveries"]} == {
        "log": "sent", "file": "sent", "hook": "sent", "mail": "sent"}
    others = [a for a in listed if a["rule"] == "prisons"]
    assert len(others) == 2 and all(d["status"] == "pending" for a in others for d in a["deliveries"])
    # a second test a second later is a new alert
    assert al.send_test(engine, settings, NOW + timedelta(seconds=1))["sent"] == 4
    # a channel that is down is reported, and its delivery stays pending for later runs
    smtp.stop()
    later = al.send_test(engine, settings, NOW + timedelta(seconds=2))
    assert later["channels"]["mail"] == "pending" and "mail" in later["errors"]
    assert later["channels"]["hook"] == "sent"
