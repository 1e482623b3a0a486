"""Alerts: rules evaluated against the store, raised once, delivered through an outbox.

Raising (:func:`evaluate`)
--------------------------
Every rule of ``settings.alert_rules`` is checked against what the store
holds; each match is an alert with the dedup key ``RULE:ARTICLE_KEY:SYMBOL``
(unique in ``alerts``), so evaluating again raises nothing new. The alert row
and one ``alert_deliveries`` row per channel of the rule (``pending``, due
``now``) are written in the caller's transaction: an alert never exists
without its deliveries (the transactional outbox).

Rule kinds:

* ``new_article`` - an event (article x symbol) whose relevance is at least
  ``min_relevance``;
* ``abnormal_return`` - an ``event_returns`` row of the rule's ``window`` with
  ``|abnormal_return| >= min_abs_return`` and ``|t| >= min_abs_t``. The value
  is used as soon as it exists, complete or not; an incomplete window says so
  in the text ("so far");
* ``intraday_move`` - an ``event_reactions`` row at the horizon
  ``<within_minutes>m``, or the smallest of 5m/15m/60m not shorter (``close``
  beyond 60 minutes), with ``|abnormal_return| >= min_abs_return``;
* ``abnormal_volume`` - ``events.abnormal_volume_log >= log(min_volume_ratio)``.

A rule applies to its ``tickers``, else to its ``theme``'s tickers, else to
every ticker. Comparisons are exact on the stored values (a t of -1.9998 is
below 2 even though the text shows it rounded as -2.00).

Delivering (:func:`deliver`)
----------------------------
Due deliveries (``pending`` and ``next_attempt_at <= now``) are sent one by
one, each through its channel's sender:

* ``log`` - a WARNING on the ``monitor.alerts`` logger with the alert text
  (the channel named ``log`` always exists);
* ``jsonl`` - one JSON line appended to ``path``, flushed and fsynced;
* ``webhook`` - a Slack-compatible JSON POST ``{"text": ..., "blocks": [...]}``
  with :mod:`urllib.request` and a 10 s timeout; any 2xx is success,
  redirects are not followed. The URL is the operator's own setting (not
  untrusted input like a feed address), so it does not go through
  :mod:`monitor.news.http`, which exists to fetch feeds safely;
* ``email`` - plain text through :mod:`smtplib` to ``smtp_host:smtp_port``,
  STARTTLS when ``smtp_starttls``, a login when ``smtp_user`` is set; subject
  ``[monitor] <title>``.

A failure adds one attempt, keeps the error and sets the next attempt
``30 s * 2^(attempts-1)`` later (at most 1 h); at ``alert_max_attempts`` the
delivery is ``failed``.

Delivery guarantee: at-least-once, with at most one duplicate. Before
sending, a delivery is *claimed* in its own transaction (its
``next_attempt_at`` moves ``CLAIM_SECONDS`` ahead, guarded by the old value),
so two concurrent ``deliver`` runs never send the same delivery. Right after
the channel accepts it, it is marked ``sent`` in its own transaction. A crash
between the two (the one delivery in flight) leaves it pending; when the
claim expires it is sent again - that one duplicate is the only one possible,
and nothing is ever lost.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import Connection, Engine

from monitor import clock as _clock
from monitor.config import AlertChannel, AlertRule, Settings, parse_window
from monitor.errors import ConfigError
from monitor.mail import send_message
from monitor.store.repo import upsert
from monitor.store.schema import alert_deliveries, alerts, articles, event_reactions, event_returns, events

log = logging.getLogger(__name__)

#: Seconds between the first failed attempt and the next; doubled each time, capped.
BACKOFF_BASE = 30.0
BACKOFF_CAP = 3600.0
#: How long a delivery being sent is held from other ``deliver`` runs.
CLAIM_SECONDS = 300.0
WEBHOOK_TIMEOUT = 10.0
SMTP_TIMEOUT = 30.0
INTRADAY_HORIZONS = (5, 15, 60)
#: Longest headline quoted in an alert's text (the payload keeps the whole one).
HEADLINE_CHARS = 200

#: A sender delivers one alert to one channel, or raises.
Sender = Callable[[AlertChannel, Mapping[str, Any], Settings], None]


# Configuration ---------------------------------------------------------------
def channels_by_name(settings: Settings) -> dict[str, AlertChannel]:
    """The configured channels by name, with the built-in ``log`` channel."""
    out = {"log": AlertChannel(name="log", kind="log")}
    for channel in settings.alert_channels:
        out[channel.name] = channel
    return out


def check_config(settings: Settings) -> None:
    """Raise :class:`ConfigError` (one line) for a rule or channel that cannot work."""
    channels = channels_by_name(settings)
    names = [c.name for c in settings.alert_channels]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"alert channel names must be unique; repeated: {', '.join(dupes)}")
    for channel in settings.alert_channels:
        if channel.kind == "jsonl" and channel.path is None:
            raise ConfigError(f"alert channel {channel.name!r} (jsonl) needs a path")
        if channel.kind == "webhook" and not (channel.url or "").lower().startswith(("http://", "https://")):
            raise ConfigError(f"alert channel {channel.name!r} (webhook) needs an http(s) url")
        if channel.kind == "email" and not channel.to:
            raise ConfigError(f"alert channel {channel.name!r} (email) needs recipients in 'to'")
        if channel.kind == "email" and not settings.smtp_host:
            raise ConfigError(f"alert channel {channel.name!r} (email) needs smtp_host (MONITOR_SMTP_HOST)")
    rules = [r.name for r in settings.alert_rules]
    dupes = sorted({n for n in rules if rules.count(n) > 1})
    if dupes:
        raise ConfigError(f"alert rule names must be unique; repeated: {', '.join(dupes)}")
    for rule in settings.alert_rules:
        unknown = [c for c in rule.channels if c not in channels]
        if unknown:
            raise ConfigError(
                f"alert rule {rule.name!r} names unknown channel(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(channels))} (see [[alert_channels]])"
            )
        if rule.theme is not None and not rule.tickers and rule.theme not in settings.themes:
            raise ConfigError(
                f"alert rule {rule.name!r} names unknown theme {rule.theme!r}; "
                f"known: {', '.join(sorted(settings.themes)) or 'none'} (see [themes])"
            )
        if rule.kind == "abnormal_return":
            try:
                parse_window(rule.window)
            except ValueError as exc:
                raise ConfigError(f"alert rule {rule.name!r}: {exc}") from None


def rule_symbols(rule: AlertRule, settings: Settings) -> list[str] | None:
    """The tickers a rule applies to; ``None`` for every ticker."""
    if rule.tickers:
        return [t.upper() for t in rule.tickers]
    if rule.theme is not None:
        return [t.upper() for t in settings.themes.get(rule.theme, [])]
    return None


def intraday_horizon(within_minutes: int) -> str:
    """The stored horizon an ``intraday_move`` rule reads: the smallest one not shorter."""
    for minutes in INTRADAY_HORIZONS:
        if minutes >= within_minutes:
            return f"{minutes}m"
    return "close"


# Raising ---------------------------------------------------------------------
def dedup_key(rule: str, article_key: str | None, symbol: str) -> str:
    return f"{rule}:{article_key or '-'}:{symbol}"


def evaluate(conn: Connection | Engine, settings: Settings, now: datetime) -> list[int]:
    """Raise the alerts of every rule not raised before; return the new alerts' ids.

    With a ``Connection`` the writes join the caller's transaction; with an
    ``Engine`` they are committed in one transaction of their own.
    """
    _aware(now)
    check_config(settings)
    if isinstance(conn, Engine):
        with conn.begin() as c:
            return evaluate(c, settings, now)
    new_ids: list[int] = []
    for rule in settings.alert_rules:
        known = set(conn.execute(select(alerts.c.dedup_key).where(alerts.c.rule == rule.name)).scalars())
        for draft in _matches(conn, settings, rule):
            if draft["dedup_key"] in known:
                continue
            alert_id = _insert_alert(conn, draft, rule.channels, now)
            known.add(draft["dedup_key"])
            if alert_id is not None:
                new_ids.append(alert_id)
    if new_ids:
        log.info("raised %d alert(s)", len(new_ids))
    return new_ids


def _insert_alert(conn: Connection, draft: Mapping[str, Any], channels: Iterable[str], now: datetime) -> int | None:
    """Insert an alert and its pending deliveries; ``None`` when its key is already there."""
    row = {
        "dedup_key": draft["dedup_key"],
        "rule": draft["rule"],
        "kind": draft["kind"],
        "symbol": draft["symbol"],
        "article_key": draft.get("article_key"),
        "title": draft["title"],
        "text": draft["text"],
        "payload": _json_safe(draft["payload"]),
        "created_at": now,
    }
    if not upsert(conn, alerts, [row], ["dedup_key"]):
        return None
    alert_id = conn.execute(select(alerts.c.id).where(alerts.c.dedup_key == row["dedup_key"])).scalar_one()
    chans = list(dict.fromkeys(channels))
    if chans:
        conn.execute(
            alert_deliveries.insert(),
            [
                {"alert_id": alert_id, "channel": ch, "status": "pending", "attempts": 0, "next_attempt_at": now}
                for ch in chans
            ],
        )
    return alert_id


def _base_query(*extra):  # noqa: ANN202 - a Select
    return (
        select(
            events.c.article_key,
            events.c.symbol,
            events.c.session,
            events.c.relevance,
            events.c.published_at,
            events.c.abnormal_volume_log,
            events.c.abnormal_volume_z,
            articles.c.title,
            articles.c.url,
            articles.c.canonical_url,
            *extra,
        )
        .select_from(events)
        .join(articles, articles.c.article_key == events.c.article_key)
    )


def _matches(conn: Connection, settings: Settings, rule: AlertRule) -> Iterable[dict[str, Any]]:
    symbols = rule_symbols(rule, settings)
    if symbols is not None and not symbols:
        return []
    if rule.kind == "new_article":
        q = _base_query().where(events.c.relevance >= rule.min_relevance)
    elif rule.kind == "abnormal_return":
        start, end = parse_window(rule.window)
        q = (
            _base_query(
                event_returns.c.abnormal_return,
                event_returns.c.t_stat,
                event_returns.c.model,
                event_returns.c.complete,
            )
            .join(
                event_returns,
                and_(event_returns.c.article_key == events.c.article_key, event_returns.c.symbol == events.c.symbol),
            )
            .where(
                event_returns.c.window_start == start,
                event_returns.c.window_end == end,
                event_returns.c.abnormal_return.is_not(None),
                event_returns.c.t_stat.is_not(None),
                func.abs(event_returns.c.abnormal_return) >= rule.min_abs_return,
                func.abs(event_returns.c.t_stat) >= rule.min_abs_t,
            )
        )
    elif rule.kind == "intraday_move":
        horizon = intraday_horizon(rule.within_minutes)
        q = (
            _base_query(
                event_reactions.c.abnormal_return,
                event_reactions.c.horizon,
                event_reactions.c.complete,
                event_reactions.c.start_at,
                event_reactions.c.end_at,
            )
            .join(
                event_reactions,
                and_(event_reactions.c.article_key == events.c.article_key, event_reactions.c.symbol == events.c.symbol),
            )
            .where(
                event_reactions.c.horizon == horizon,
                event_reactions.c.abnormal_return.is_not(None),
                func.abs(event_reactions.c.abnormal_return) >= rule.min_abs_return,
            )
        )
    elif rule.kind == "abnormal_volume":
        q = _base_query().where(
            events.c.abnormal_volume_log.is_not(None),
            events.c.abnormal_volume_log >= math.log(rule.min_volume_ratio),
        )
    else:  # pragma: no cover - the settings model allows no other kind
        raise ConfigError(f"alert rule {rule.name!r} has unknown kind {rule.kind!r}")
    if symbols is not None:
        q = q.where(events.c.symbol.in_(symbols))
    q = q.order_by(events.c.published_at, events.c.id)
    out = []
    for r in conn.execute(q).mappings():
        out.append(_draft(rule, dict(r)))
    return out


def _pct(x: float) -> str:
    return f"{x * 100:+.2f}%"


def _day(n: int) -> str:
    return "0" if n == 0 else f"{n:+d}"


def window_label(start: int, end: int) -> str:
    """``day 0``, ``day +1``, ``days -1 to +1``."""
    if start == end:
        return f"day {_day(start)}"
    return f"days {_day(start)} to {_day(end)}"


_MODEL_LABELS = {"market": "market model", "market_adjusted": "market-adjusted", "mean": "mean-adjusted"}


def _headline(title: str, url: str | None) -> str:
    head = " ".join(title.split())
    if len(head) > HEADLINE_CHARS:
        head = head[: HEADLINE_CHARS - 1].rstrip() + "…"
    return f"{head} {url}" if url else head


def _draft(rule: AlertRule, r: dict[str, Any]) -> dict[str, Any]:
    symbol = r["symbol"]
    url = r.get("canonical_url") or r.get("url")
    session: date = r["session"]
    published: datetime = r["published_at"]
    payload: dict[str, Any] = {
        "symbol": symbol,
        "rule": rule.name,
        "kind": rule.kind,
        "session": session.isoformat(),
        "window": None,
        "abnormal_return": None,
        "t_stat": None,
        "relevance": r["relevance"],
        "headline": r["title"],
        "url": url,
        "article_key": r["article_key"],
        "published_at": published.isoformat(),
    }
    if rule.kind == "new_article":
        title = f"{symbol} in the news (relevance {r['relevance']:.1f})"
        what = f"{symbol} in the news on {session.isoformat()} (relevance {r['relevance']:.1f})"
    elif rule.kind == "abnormal_return":
        start, end = parse_window(rule.window)
        ar, t = r["abnormal_return"], r["t_stat"]
        label = window_label(start, end)
        done = "" if r["complete"] else ", window not complete yet: value so far"
        payload.update(window=rule.window, abnormal_return=ar, t_stat=t, model=r["model"], complete=bool(r["complete"]))
        title = f"{symbol} {_pct(ar)} abnormal on {session.isoformat()} ({label})"
        what = (
            f"{symbol} {_pct(ar)} abnormal on {session.isoformat()} "
            f"({label}, {_MODEL_LABELS.get(r['model'], r['model'])}, t {t:.2f}{done})"
        )
    elif rule.kind == "intraday_move":
        ar = r["abnormal_return"]
        horizon = r["horizon"]
        span = "by the close" if horizon == "close" else f"within {horizon.removesuffix('m')} min"
        done = "" if r["complete"] else ", horizon not complete yet"
        payload.update(window=horizon, abnormal_return=ar, complete=bool(r["complete"]),
                       start_at=_iso(r["start_at"]), end_at=_iso(r["end_at"]))
        title = f"{symbol} {_pct(ar)} abnormal {span} of a story"
        what = (
            f"{symbol} {_pct(ar)} abnormal {span} of the story at "
            f"{published.strftime('%Y-%m-%d %H:%M')} UTC (market-adjusted{done})"
        )
    else:  # abnormal_volume
        lv, z = r["abnormal_volume_log"], r["abnormal_volume_z"]
        ratio = math.exp(lv)
        zt = f", z {z:.2f}" if z is not None else ""
        payload.update(window="0:0", volume_ratio=ratio, abnormal_volume_log=lv, abnormal_volume_z=z)
        title = f"{symbol} volume {ratio:.1f}x normal on {session.isoformat()}"
        what = f"{symbol} volume {ratio:.1f}x normal on {session.isoformat()} (day 0, log ratio {lv:.2f}{zt})"
    text = f"{what}: {_headline(r['title'], url)}"
    return {
        "dedup_key": dedup_key(rule.name, r["article_key"], symbol),
        "rule": rule.name,
        "kind": rule.kind,
        "symbol": symbol,
        "article_key": r["article_key"],
        "title": title,
        "text": text,
        "payload": payload,
    }


# Delivering ------------------------------------------------------------------
@dataclass
class DeliveryReport:
    """What one :func:`deliver` run did."""

    sent: int = 0
    retrying: int = 0  #: failed this time, to be tried again
    failed: int = 0  #: failed for the last time (status ``failed``)
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed attempt: 30 s, 60 s, 120 s ... at most 1 h."""
    return timedelta(seconds=min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP))


def deliver(
    engine: Engine,
    settings: Settings,
    now: datetime,
    *,
    sender: Sender | None = None,
    alert_ids: Iterable[int] | None = None,
    limit: int = 500,
) -> DeliveryReport:
    """Send every due delivery (or only those of ``alert_ids``); see the module's guarantee.

    ``sender(channel, alert, settings)`` replaces the built-in senders (it
    raises on failure). ``engine`` is anything with ``begin()`` giving a
    connection context (an Engine).
    """
    _aware(now)
    report = DeliveryReport()
    channels = channels_by_name(settings)
    q = (
        select(
            alert_deliveries.c.id.label("delivery_id"),
            alert_deliveries.c.channel,
            alert_deliveries.c.attempts,
            alert_deliveries.c.next_attempt_at,
            alerts.c.id,
            alerts.c.dedup_key,
            alerts.c.rule,
            alerts.c.kind,
            alerts.c.symbol,
            alerts.c.article_key,
            alerts.c.title,
            alerts.c.text,
            alerts.c.payload,
            alerts.c.created_at,
        )
        .select_from(alert_deliveries)
        .join(alerts, alerts.c.id == alert_deliveries.c.alert_id)
        .where(alert_deliveries.c.status == "pending", alert_deliveries.c.next_attempt_at <= now)
        .order_by(alert_deliveries.c.next_attempt_at, alert_deliveries.c.id)
        .limit(limit)
    )
    if alert_ids is not None:
        q = q.where(alerts.c.id.in_(list(alert_ids)))
    with engine.begin() as conn:
        due = [dict(r) for r in conn.execute(q).mappings()]
    for item in due:
        if not _claim(engine, item, now):
            continue  # another deliver run has it
        alert = {k: item[k] for k in ("id", "dedup_key", "rule", "kind", "symbol", "article_key",
                                      "title", "text", "payload", "created_at")}
        channel = channels.get(item["channel"])
        try:
            if channel is None:
                raise ConfigError(f"channel {item['channel']!r} is no longer configured")
            (sender or send)(channel, alert, settings)
        except Exception as exc:  # noqa: BLE001 - any failure of a channel is recorded and retried
            error = f"{exc.__class__.__name__}: {exc}".strip().splitlines()[0][:1000]
            attempts = item["attempts"] + 1
            final = attempts >= settings.alert_max_attempts
            with engine.begin() as conn:
                conn.execute(
                    update(alert_deliveries)
                    .where(alert_deliveries.c.id == item["delivery_id"])
                    .values(
                        attempts=attempts,
                        last_error=error,
                        status="failed" if final else "pending",
                        next_attempt_at=now + backoff(attempts),
                    )
                )
            msg = f"alert {item['id']} via {item['channel']}: {error}"
            report.errors.append(msg)
            if final:
                report.failed += 1
                log.error("%s; gave up after %d attempt(s)", msg, attempts)
            else:
                report.retrying += 1
                log.warning("%s; attempt %d, next in %s", msg, attempts, backoff(attempts))
            continue
        with engine.begin() as conn:
            conn.execute(
                update(alert_deliveries)
                .where(alert_deliveries.c.id == item["delivery_id"])
                .values(status="sent", attempts=item["attempts"] + 1, delivered_at=now, last_error=None)
            )
        report.sent += 1
    return report


def _claim(engine: Engine, item: dict[str, Any], now: datetime) -> bool:
    """Hold a due delivery for this run; ``False`` when another run changed it first."""
    with engine.begin() as conn:
        res = conn.execute(
            update(alert_deliveries)
            .where(
                alert_deliveries.c.id == item["delivery_id"],
                alert_deliveries.c.status == "pending",
                alert_deliveries.c.next_attempt_at == item["next_attempt_at"],
            )
            .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
        )
        return res.rowcount == 1


def send(channel: AlertChannel, alert: Mapping[str, Any], settings: Settings) -> None:
    """Deliver one alert through one channel with the built-in sender; raise on failure."""
    if channel.kind == "log":
        send_log(alert)
    elif channel.kind == "jsonl":
        if channel.path is None:
            raise ConfigError(f"alert channel {channel.name!r} (jsonl) needs a path")
        send_jsonl(channel.path, alert)
    elif channel.kind == "webhook":
        if not channel.url:
            raise ConfigError(f"alert channel {channel.name!r} (webhook) needs a url")
        send_webhook(channel.url, alert)
    elif channel.kind == "email":
        send_email(settings, channel.to, alert)
    else:  # pragma: no cover
        raise ConfigError(f"alert channel {channel.name!r} has unknown kind {channel.kind!r}")


def send_log(alert: Mapping[str, Any]) -> None:
    log.warning("ALERT %s", alert["text"])


def alert_record(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form of an alert (jsonl lines)."""
    return {
        "id": alert.get("id"),
        "dedup_key": alert.get("dedup_key"),
        "rule": alert["rule"],
        "kind": alert["kind"],
        "symbol": alert["symbol"],
        "article_key": alert.get("article_key"),
        "title": alert["title"],
        "text": alert["text"],
        "payload": alert.get("payload"),
        "created_at": _iso(alert.get("created_at")),
    }


def send_jsonl(path: Path, alert: Mapping[str, Any]) -> None:
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(_json_safe(alert_record(alert)), ensure_ascii=False, sort_keys=True) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201, PLR0913
        return None  # a redirect is an error (urllib raises HTTPError with the 3xx code)


def slack_body(alert: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack-compatible message: the text, and a section block (Slack's 3000-character limit)."""
    text = str(alert["text"])
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": str(alert["title"])[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}},
        ],
    }


def send_webhook(url: str, alert: Mapping[str, Any], timeout: float = WEBHOOK_TIMEOUT) -> None:
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"webhook url {url!r} is not http(s)")
    body = json.dumps(_json_safe(slack_body(alert)), ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "market-impact-monitor",
                 # The same key on every attempt: a receiver can drop the copy sent again when a
                 # monitor died between the receiver's answer and recording the delivery.
                 "Idempotency-Key": str(alert.get("dedup_key") or alert.get("id") or "")},
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=timeout) as resp:
            status = resp.status
            resp.read(65536)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"webhook answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RuntimeError(f"webhook unreachable: {reason}") from None
    if not 200 <= status < 300:
        raise RuntimeError(f"webhook answered HTTP {status}")


def email_message(settings: Settings, to: list[str], alert: Mapping[str, Any]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"[monitor] {alert['title']}"
    msg["From"] = settings.smtp_from
    msg["To"] = ", ".join(to)
    # The same Message-ID on every attempt: mail systems that drop duplicate Message-IDs drop the
    # copy a monitor may send again when it died between the server's answer and recording it.
    key = str(alert.get("dedup_key") or alert.get("id") or alert["text"])
    domain = settings.smtp_from.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = f"<alert.{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"
    details = json.dumps(_json_safe(alert.get("payload") or {}), indent=2, ensure_ascii=False, sort_keys=True)
    msg.set_content(f"{alert['text']}\n\n{details}\n")
    return msg


def send_email(settings: Settings, to: list[str], alert: Mapping[str, Any]) -> None:
    if not settings.smtp_host:
        raise ConfigError("e-mail alerts need smtp_host (MONITOR_SMTP_HOST)")
    if not to:
        raise ConfigError("e-mail alert channel has no recipients")
    send_message(settings, email_message(settings, to, alert), timeout=SMTP_TIMEOUT)


# Test alert and listing --------------------------------------------------------
def sample_alert(settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """A made-up alert for ``monitor alerts test``; its dedup key carries the time, so it is always new."""
    now = now or _clock.now()
    _aware(now)
    channels = list(channels_by_name(settings))
    text = (
        f"TEST -9.36% abnormal on {now.date().isoformat()} (day 0, market model, t -2.48): "
        "this is a test alert from the market-impact monitor"
    )
    return {
        "dedup_key": f"test:{now.isoformat()}",
        "rule": "test",
        "kind": "test",
        "symbol": "TEST",
        "article_key": None,
        "title": "test alert",
        "text": text,
        "payload": {
            "symbol": "TEST", "rule": "test", "kind": "test", "session": now.date().isoformat(),
            "window": "0:0", "abnormal_return": -0.0936, "t_stat": -2.48, "relevance": None,
            "headline": "this is a test alert from the market-impact monitor", "url": None,
            "article_key": None, "published_at": now.isoformat(), "channels": channels,
        },
    }


def send_test(
    engine: Engine, settings: Settings, now: datetime, *, sender: Sender | None = None
) -> dict[str, Any]:
    """Raise a sample alert through every configured channel (and ``log``) and deliver it now.

    Returns ``{"alert_id", "text", "channels": {name: status}, "errors": {name: error},
    "sent", "retrying", "failed"}``; a status other than ``sent`` means that channel did not
    take it (it stays pending and later ``deliver`` runs retry it like any alert).
    """
    check_config(settings)
    draft = sample_alert(settings, now)
    with engine.begin() as conn:
        alert_id = _insert_alert(conn, draft, channels_by_name(settings), now)
    if alert_id is None:  # the same instant twice
        raise ValueError(f"a test alert was already sent at {now.isoformat()}")
    report = deliver(engine, settings, now, sender=sender, alert_ids=[alert_id])
    with engine.connect() as conn:
        rows = conn.execute(
            select(alert_deliveries.c.channel, alert_deliveries.c.status, alert_deliveries.c.last_error)
            .where(alert_deliveries.c.alert_id == alert_id)
            .order_by(alert_deliveries.c.id)
        ).all()
    return {
        "alert_id": alert_id,
        "text": draft["text"],
        "channels": {r.channel: r.status for r in rows},
        "errors": {r.channel: r.last_error for r in rows if r.last_error},
        "sent": report.sent,
        "retrying": report.retrying,
        "failed": report.failed,
    }


def list_alerts(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The newest alerts, each with ``deliveries``: channel, status, attempts, last error, times."""
    rows = [
        dict(r)
        for r in conn.execute(
            select(alerts).order_by(alerts.c.created_at.desc(), alerts.c.id.desc()).limit(limit)
        ).mappings()
    ]
    if not rows:
        return []
    by_id = {r["id"]: r for r in rows}
    for r in rows:
        r["deliveries"] = []
    q = (
        select(alert_deliveries)
        .where(alert_deliveries.c.alert_id.in_(list(by_id)))
        .order_by(alert_deliveries.c.alert_id, alert_deliveries.c.channel)
    )
    for d in conn.execute(q).mappings():
        by_id[d["alert_id"]]["deliveries"].append(
            {k: d[k] for k in ("channel", "status", "attempts", "next_attempt_at", "last_error", "delivered_at")}
        )
    return rows


# Helpers -----------------------------------------------------------------------
def _aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (datetime, date)) else value


def _json_safe(value: Any) -> Any:
    """JSON-ready: dates as ISO text, NaN and infinities as null (PostgreSQL's JSON refuses them)."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value
