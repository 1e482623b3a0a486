"""The daily digest: the day's stories, the biggest abnormal movers, alerts and charts.

Built from the store only (no network, no computation beyond formatting):

* **stories** - every event whose trading session is the day, or whose article
  was published on the day in ``digest_timezone`` (a date-only article counts
  on its stated date), one row per (article, ticker) with its relevance and
  its day-0 abnormal return and window CARs;
* **movers** - the events of the day with a day-0 abnormal return (window
  ``0:0`` of ``event_returns``), largest ``|AR|`` first, one per ticker and
  session, with the CAR, t statistic and observations of every configured
  window. The model is whatever ``event_returns`` holds: ``settings.model``
  where present, else the row there is (instruments without a benchmark use
  ``mean``);
* **alerts** - rows of ``alerts`` created on the day (in ``digest_timezone``)
  or about the day's events;
* **charts** - a price chart per mover (benchmark rebased, news marked) and a
  bar chart of the movers' day-0 abnormal returns.

:class:`Digest` holds a complete HTML document (plotly.js embedded inline once,
so the file opens offline), a plain-text version with the same tables and an
e-mail subject. Article text is always HTML-escaped; nothing from an article
is ever inserted as markup.

The e-mail (:func:`email_digest`) is multipart/alternative: the text version
and an HTML part with the same tables **without the charts** (the inline
plotly.js bundle is ~4.8 MB and mail clients do not run scripts anyway); the
HTML file written beside it has them.

:func:`run_digest` builds, writes and records the digest in the ``digests``
table; see its docstring for the e-mail retry rules.
"""

from __future__ import annotations

import html
import logging
import smtplib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import plotly.io as pio
from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection, Engine

from monitor import clock as _clock
from monitor.formatting import missing, num, pct, window_label
from monitor import figures
from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.mail import send_message
from monitor.store import repo
from monitor.store.schema import alerts, articles, digests, event_returns, events

log = logging.getLogger(__name__)

#: Most movers listed (and charted) in a digest.
MAX_MOVERS = 10
#: Most per-mover price charts in a digest.
MAX_PRICE_CHARTS = 6
#: Calendar days of prices shown before and after the event session.
CHART_DAYS_BEFORE = 90
CHART_DAYS_AFTER = 14
SMTP_TIMEOUT = 30.0


class DigestError(MonitorError):
    """The digest could not be built, written or sent."""


class DigestEmailError(DigestError):
    """The digest e-mail could not be handed to the SMTP server."""


@dataclass
class Digest:
    """One day's digest, ready to write or send."""

    day: date
    subject: str
    html: str
    text: str
    #: The e-mail's HTML part: the same tables as :attr:`html`, without the charts.
    email_html: str
    counts: dict[str, int] = field(default_factory=dict)


# Formatting -----------------------------------------------------------------
def _cell(res: Mapping[str, Any] | None) -> str:
    """A window's CAR with its t in brackets: ``-6.85% (-1.17)``."""
    if not res or missing(res.get("car")):
        return "—"
    t = res.get("t_stat")
    return pct(res["car"]) + ("" if missing(t) else f" ({float(t):+.2f})")


# Reading the store ----------------------------------------------------------
def _day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tz).astimezone(timezone.utc)
    end = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(timezone.utc)
    return start, end


def _published_day(published: datetime, date_only: bool, tz: ZoneInfo) -> date:
    """The article's publication date in ``tz``; a date-only article's stated date."""
    if date_only:
        return published.astimezone(timezone.utc).date()
    return published.astimezone(tz).date()


def _stories(conn: Connection, day: date, tz: ZoneInfo, settings: Settings) -> list[dict[str, Any]]:
    """Events of the day with their article and results per window (see the module doc)."""
    start, end = _day_bounds(day, tz)
    midnight = datetime.combine(day, time(0), timezone.utc)
    q = (
        select(
            events.c.article_key, events.c.symbol, events.c.session, events.c.timing, events.c.date_only,
            events.c.relevance, events.c.published_at, events.c.confounded,
            events.c.abnormal_volume_log, events.c.abnormal_volume_z,
            articles.c.title, articles.c.source, articles.c.url, articles.c.canonical_url,
        )
        .join(articles, articles.c.article_key == events.c.article_key)
        .where(or_(
            events.c.session == day,
            and_(events.c.published_at >= start, events.c.published_at < end),
            and_(events.c.date_only.is_(True), events.c.published_at == midnight),
        ))
        .order_by(events.c.symbol, events.c.relevance.desc(), events.c.published_at)
    )
    rows = [dict(r) for r in conn.execute(q).mappings()]
    rows = [r for r in rows if r["session"] == day or _published_day(r["published_at"], r["date_only"], tz) == day]
    if not rows:
        return []
    keys = sorted({r["article_key"] for r in rows})
    held: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
    for i in range(0, len(keys), 500):
        rq = select(event_returns).where(event_returns.c.article_key.in_(keys[i : i + 500]))
        for res in conn.execute(rq).mappings():
            label = f"{res['window_start']}:{res['window_end']}"
            held.setdefault((res["article_key"], res["symbol"]), {}).setdefault(label, []).append(dict(res))
    for row in rows:
        by_window: dict[str, dict[str, Any]] = {}
        for label, found in held.get((row["article_key"], row["symbol"]), {}).items():
            preferred = [f for f in found if f["model"] == settings.model]
            by_window[label] = (preferred or sorted(found, key=lambda f: f["model"]))[0]
        row["windows"] = by_window
        day0 = by_window.get("0:0") or next(iter(by_window.values()), None)
        row["model"] = day0["model"] if day0 else None
        row["benchmark"] = day0["benchmark"] if day0 else None
        row["status"] = day0["status"] if day0 else None
        row["reason"] = day0["reason"] if day0 else None
    return rows


def _movers(stories: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stories with a day-0 AR, one per (ticker, session), largest |AR| first."""
    best: dict[tuple[str, date], dict[str, Any]] = {}
    for row in stories:  # ordered by symbol, relevance desc: the first is the most relevant story
        day0 = row["windows"].get("0:0")
        if not day0 or missing(day0.get("abnormal_return")):
            continue
        best.setdefault((row["symbol"], row["session"]), row)
    ranked = sorted(best.values(), key=lambda r: -abs(r["windows"]["0:0"]["abnormal_return"]))
    return ranked[:MAX_MOVERS]


def _alerts(conn: Connection, day: date, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Alerts raised on the day, and alerts about the day's events (a digest built later shows them too)."""
    start, end = _day_bounds(day, tz)
    about_the_day = (
        select(events.c.id)
        .where(events.c.article_key == alerts.c.article_key, events.c.symbol == alerts.c.symbol,
               events.c.session == day)
        .exists()
    )
    q = (
        select(alerts.c.created_at, alerts.c.rule, alerts.c.kind, alerts.c.symbol, alerts.c.title, alerts.c.text)
        .where(or_(and_(alerts.c.created_at >= start, alerts.c.created_at < end), about_the_day))
        .order_by(alerts.c.created_at, alerts.c.id)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


# Tables ---------------------------------------------------------------------
@dataclass
class _Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    #: Columns aligned right (numbers).
    right: set[int] = field(default_factory=set)
    empty: str = "none"
    notes: list[str] = field(default_factory=list)


def _story_table(stories: Sequence[dict[str, Any]], windows: Sequence[tuple[int, int]], tz: ZoneInfo) -> _Table:
    headers = ["Ticker", "Session", "Timing", "Rel.", "Headline", "Source", "Published", "AR d0 (t)"]
    headers += [f"CAR{window_label(w)} (t)" for w in windows if w != (0, 0)]
    rows, notes = [], []
    for s in stories:
        day0 = s["windows"].get("0:0") or {}
        ar = day0.get("abnormal_return")
        published = ("date only" if s["date_only"]
                     else s["published_at"].astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"))
        rows.append([
            s["symbol"], s["session"].isoformat(), s["timing"], f"{s['relevance']:.0f}", s["title"], s["source"],
            published, pct(ar) + ("" if missing(day0.get("t_stat")) else f" ({num(day0['t_stat'])})"),
            *[_cell(s["windows"].get(f"{w[0]}:{w[1]}")) for w in windows if w != (0, 0)],
        ])
        if s["status"] and s["status"] != "ok":
            notes.append(f"{s['symbol']}: {s['reason'] or s['status']}")
        elif s["status"] is None:
            notes.append(f"{s['symbol']}: no abnormal return computed yet")
    right = {3} | set(range(7, len(headers)))
    return _Table("Stories", headers, rows, right, "no stories on this day", sorted(set(notes)))


def _mover_table(movers: Sequence[dict[str, Any]], windows: Sequence[tuple[int, int]]) -> _Table:
    headers = ["Ticker", "Session", "Model", "Benchmark", "Raw d0", "AR d0", "t", "n"]
    headers += [f"CAR{window_label(w)} (t)" for w in windows if w != (0, 0)]
    headers += ["Headline"]
    rows = []
    for m in movers:
        day0 = m["windows"]["0:0"]
        rows.append([
            m["symbol"], m["session"].isoformat(), day0["model"], day0["benchmark"] or "—",
            pct(day0["raw_return"]), pct(day0["abnormal_return"]), num(day0["t_stat"]),
            str(day0["n_obs"]),
            *[_cell(m["windows"].get(f"{w[0]}:{w[1]}")) for w in windows if w != (0, 0)],
            m["title"],
        ])
    return _Table("Biggest abnormal movers", headers, rows, set(range(4, len(headers) - 1)),
                  "no abnormal returns for this day's events")


def _alert_table(found: Sequence[dict[str, Any]], tz: ZoneInfo) -> _Table:
    rows = [[a["created_at"].astimezone(tz).strftime("%H:%M"), a["rule"], a["kind"], a["symbol"], a["title"]]
            for a in found]
    return _Table("Alerts", ["Time", "Rule", "Kind", "Ticker", "Alert"], rows, set(), "no alerts raised on this day")


def _text_table(table: _Table, width: int = 70) -> str:
    out = [table.title, "=" * len(table.title)]
    if not table.rows:
        out.append(table.empty)
    else:
        cells = [[" ".join(c.split()) for c in row] for row in table.rows]
        cells = [[c if len(c) <= width else c[: width - 1] + "…" for c in row] for row in cells]
        widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(table.headers)]

        def line(values: Sequence[str]) -> str:
            parts = [v.rjust(w) if i in table.right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))]
            return "  ".join(parts).rstrip()

        out.append(line(table.headers))
        out.append("  ".join("-" * w for w in widths))
        out.extend(line(r) for r in cells)
    out.extend(f"note: {n}" for n in table.notes)
    return "\n".join(out)


def _html_table(table: _Table) -> str:
    e = html.escape
    parts = [f"<section><h2>{e(table.title)}</h2>"]
    if not table.rows:
        parts.append(f'<p class="empty">{e(table.empty)}</p>')
    else:
        parts.append("<table><thead><tr>")
        parts.extend(f'<th{" class=num" if i in table.right else ""}>{e(h)}</th>' for i, h in enumerate(table.headers))
        parts.append("</tr></thead><tbody>")
        for row in table.rows:
            parts.append("<tr>" + "".join(
                f'<td{" class=num" if i in table.right else ""}>{e(c)}</td>' for i, c in enumerate(row)
            ) + "</tr>")
        parts.append("</tbody></table>")
    if table.notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{e(n)}</li>" for n in table.notes) + "</ul>")
    parts.append("</section>")
    return "".join(parts)


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#1f2328;max-width:1200px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #d0d7de}
p.meta{color:#59636e;margin-top:0} p.empty{color:#59636e;font-style:italic}
table{border-collapse:collapse;font-size:13px;margin-top:6px}
th,td{border-bottom:1px solid #eaeef2;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num,th.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
ul.notes{color:#59636e;font-size:12px} .chart{margin-top:12px}
"""


def _document(title: str, meta: str, body: str) -> str:
    e = html.escape
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{e(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1><p class=\"meta\">{e(meta)}</p>{body}</body></html>\n"
    )


# Charts ---------------------------------------------------------------------
def _charts(conn: Connection, movers: Sequence[dict[str, Any]], stories: Sequence[dict[str, Any]]) -> list[Any]:
    figs = []
    if movers:
        figs.append(figures.movers_bar(
            [{"symbol": m["symbol"], "abnormal_return": m["windows"]["0:0"]["abnormal_return"],
              "t_stat": m["windows"]["0:0"]["t_stat"], "title": m["title"]} for m in movers]
        ))
    for m in movers[:MAX_PRICE_CHARTS]:
        start = m["session"] - timedelta(days=CHART_DAYS_BEFORE)
        end = m["session"] + timedelta(days=CHART_DAYS_AFTER)
        bars = repo.load_bars(conn, m["symbol"], "1d", start, end, adjusted=True)
        bench = m["windows"]["0:0"].get("benchmark")
        bench_bars = repo.load_bars(conn, bench, "1d", start, end, adjusted=True) if bench else None
        marks = [(s["session"], s["title"]) for s in stories if s["symbol"] == m["symbol"]]
        day0 = m["windows"]["0:0"]
        title = (f"{m['symbol']} around {m['session'].isoformat()}: AR d0 {pct(day0['abnormal_return'])}"
                 f" (t {num(day0['t_stat'])})")
        figs.append(figures.price_chart(bars, m["symbol"], benchmark_bars=bench_bars, benchmark=bench,
                                        markers=marks, title=title))
    return figs


def _figure_html(figs: Sequence[Any]) -> str:
    """Each figure as a div; plotly.js inline with the first only."""
    parts = []
    for i, fig in enumerate(figs):
        parts.append('<div class="chart">' + pio.to_html(
            fig, include_plotlyjs=(i == 0), full_html=False, div_id=f"digest-fig-{i + 1}",
            config={"displaylogo": False, "responsive": True}, default_height="360px", default_width="100%",
        ) + "</div>")
    return "".join(parts)


# Building -------------------------------------------------------------------
def build_digest(conn: Connection, settings: Settings, day: date) -> Digest:
    """The digest of ``day`` (a date in ``settings.digest_timezone``), from the store only."""
    tz = ZoneInfo(settings.digest_timezone)
    windows = list(settings.window_list)
    stories = _stories(conn, day, tz, settings)
    movers = _movers(stories)
    raised = _alerts(conn, day, tz)
    figs = _charts(conn, movers, stories)

    tables = [_mover_table(movers, windows), _story_table(stories, windows, tz), _alert_table(raised, tz)]
    tickers = sorted({s["symbol"] for s in stories})
    n_articles = len({s["article_key"] for s in stories})
    title = f"Market-impact digest for {day.isoformat()}"
    if stories:
        summary = (f"{n_articles} article(s) on {len(tickers)} ticker(s) ({', '.join(tickers)}); "
                   f"{len(movers)} with a day-0 abnormal return; {len(raised)} alert(s).")
    else:
        summary = f"No news events on {day.isoformat()}: no article named a watched ticker. {len(raised)} alert(s)."
    meta = (f"{summary} Built {_clock.now().astimezone(tz).strftime('%Y-%m-%d %H:%M %Z')}; "
            f"returns in percent, t statistics in brackets; model: {settings.model} where held.")
    table_html = "".join(_html_table(t) for t in tables)
    charts_html = f"<section><h2>Charts</h2>{_figure_html(figs)}</section>" if figs else ""
    document = _document(title, meta, table_html + charts_html)
    email_html = _document(title, meta, table_html + (
        '<p class="meta">Charts are in the HTML file of the digest.</p>' if figs else ""))
    text = "\n\n".join([f"{title}\n{'=' * len(title)}", meta, *(_text_table(t) for t in tables)]) + "\n"
    if stories:
        top = movers[0] if movers else None
        lead = (f"; top mover {top['symbol']} {pct(top['windows']['0:0']['abnormal_return'])}" if top else "")
        subject = f"{title}: {n_articles} stor{'y' if n_articles == 1 else 'ies'}, {len(movers)} mover(s){lead}"
    else:
        subject = f"{title}: no news events"
    counts = {"stories": len(stories), "articles": n_articles, "tickers": len(tickers), "movers": len(movers),
              "alerts": len(raised), "charts": len(figs)}
    return Digest(day=day, subject=subject, html=document, text=text, email_html=email_html, counts=counts)


def digest_paths(folder: Path, day: date) -> tuple[Path, Path]:
    stem = f"digest-{day.isoformat()}"
    return folder / f"{stem}.html", folder / f"{stem}.txt"


def write_digest(digest: Digest, folder: Path) -> tuple[Path, Path]:
    """Write ``digest-YYYY-MM-DD.html`` and ``.txt`` into ``folder`` (created); each file replaced whole."""
    html_path, text_path = digest_paths(Path(folder), digest.day)
    try:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        for path, content in ((html_path, digest.html), (text_path, digest.text)):
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(content, encoding="utf-8")
            tmp.replace(path)
    except OSError as exc:
        raise DigestError(f"cannot write the digest to {folder}: {exc.strerror or exc}") from None
    return html_path, text_path


def email_message(digest: Digest, settings: Settings) -> EmailMessage:
    """The multipart/alternative message: text part, then the HTML tables (no charts)."""
    msg = EmailMessage()
    msg["Subject"] = digest.subject
    msg["From"] = settings.smtp_from
    msg["To"] = ", ".join(settings.digest_to)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(idstring=f"digest-{digest.day.isoformat()}")
    msg.set_content(digest.text)
    msg.add_alternative(digest.email_html, subtype="html")
    return msg


def email_digest(digest: Digest, settings: Settings) -> None:
    """Send the digest to ``settings.digest_to`` over SMTP; :class:`DigestEmailError` (one line) on failure."""
    if not settings.digest_to:
        raise DigestEmailError("no digest recipients: set digest_to")
    if not settings.smtp_host:
        raise DigestEmailError("no SMTP server: set smtp_host to e-mail the digest")
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    msg = email_message(digest, settings)
    try:
        send_message(settings, msg, timeout=SMTP_TIMEOUT)
    except (smtplib.SMTPException, OSError) as exc:
        detail = " ".join(str(exc).split()) or exc.__class__.__name__
        raise DigestEmailError(
            f"digest e-mail for {digest.day.isoformat()} not sent via SMTP {where}: {detail}"
        ) from None


# Running --------------------------------------------------------------------
def _record(conn: Connection, row: dict[str, Any]) -> None:
    repo.upsert(conn, digests, [row], ["day"], update=True)


def run_digest(engine: Engine, settings: Settings, day: date, *, send: bool = True, force: bool = False) -> dict[str, Any]:
    """Build and write the digest of ``day``, record it in ``digests`` and e-mail it.

    The files are (re)written on every call. E-mail rules:

    * no ``digest_to`` or no ``smtp_host``, or ``send=False``: nothing is sent
      (a new row gets ``email_status`` ``none``; an existing status is kept);
    * a digest already ``sent`` is **not** sent again unless ``force=True``;
    * otherwise the row is marked ``pending`` (committed) before sending, then
      ``sent`` (``emailed_at`` set, error cleared) or ``failed`` with the
      error; ``email_attempts`` counts every try. A failed (or interrupted,
      left ``pending``) e-mail is retried by calling this again.

    An SMTP failure does not raise: it is recorded and returned
    (``email_status`` ``failed``, ``email_error``). Returns day, html_path,
    text_path, email_status, email_attempts, email_error, emailed (sent by
    this call) and counts.
    """
    with engine.connect() as conn:
        digest = build_digest(conn, settings, day)
    html_path, text_path = write_digest(digest, settings.digest_dir)
    now = _clock.now()
    with engine.begin() as conn:
        held = conn.execute(select(digests).where(digests.c.day == day)).mappings().first()
        status = held["email_status"] if held else "none"
        attempts = held["email_attempts"] if held else 0
        error = held["email_error"] if held else None
        emailed_at = held["emailed_at"] if held else None
        can_send = bool(send and settings.digest_to and settings.smtp_host)
        wants = can_send and (status != "sent" or force)
        if wants:
            status = "pending"
        _record(conn, {"day": day, "built_at": now, "html_path": str(html_path), "text_path": str(text_path),
                       "email_status": status, "email_attempts": attempts, "email_error": error,
                       "emailed_at": emailed_at})
    emailed = False
    if wants:
        attempts += 1
        try:
            email_digest(digest, settings)
        except DigestEmailError as exc:
            status, error = "failed", str(exc)
            log.warning("%s (attempt %d; files kept: %s)", exc, attempts, html_path)
        else:
            status, error, emailed_at, emailed = "sent", None, _clock.now(), True
            log.info("digest for %s e-mailed to %s", day.isoformat(), ", ".join(settings.digest_to))
        with engine.begin() as conn:
            conn.execute(digests.update().where(digests.c.day == day).values(
                email_status=status, email_attempts=attempts, email_error=error, emailed_at=emailed_at))
    return {
        "day": day.isoformat(), "html_path": str(html_path), "text_path": str(text_path),
        "email_status": status, "email_attempts": attempts, "email_error": error, "emailed": emailed,
        "subject": digest.subject, "counts": dict(digest.counts),
    }
