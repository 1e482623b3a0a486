"""One pass of the monitor: sources -> dedup -> tag -> market time -> prices -> impact -> store.

:meth:`Pipeline.run_pass` takes whatever is new through every stage and is
idempotent. An article already held (same normalised text, GUID or canonical
URL) is skipped; a near-duplicate joins the story of an earlier article
(SimHash) with a lower novelty, and only the first article of a story creates
events; undated articles are kept but create none. Event returns are computed
again only while a window is incomplete (or its prices were missing), so a
second pass over the same input adds nothing.

Each source's poll is stored in one transaction together with its health
record and conditional-GET state: a pass killed in the middle of a poll loses
that poll whole, and the next pass fetches it again. A failing source is
recorded and logged, and the other sources go on. Prices and returns commit
symbol by symbol, so a pass killed there keeps what it finished.
"""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection, Engine

from monitor import clock as _clock
from monitor import calendars, impact
from monitor.config import Settings
from monitor.errors import MaxLossExceededError, MonitorError, PriceError, PriceSourceUnavailableError
from monitor.models import Article, Event, EventReturn, EventTime, Instrument, TickerTag
from monitor.news import NewsSource, SourceBatch
from monitor.news.dedup import StoryIndex, canonical_url, simhashes
from monitor.news.files import FilesNewsSource
from monitor.prices import PriceSource
from monitor.prices.cache import daily_closes, ensure_bars, ensure_daily_bars
from monitor.store import repo
from monitor.tagging.matcher import Tagger
from monitor.tagging.universe import Universe, load_universe, load_watchlist

log = logging.getLogger(__name__)


@dataclass
class PassReport:
    """What one pass did (counts of rows inserted, not updated)."""

    articles_seen: int = 0
    articles_new: int = 0
    articles_dropped: int = 0
    duplicates: int = 0
    repeats: int = 0
    mentions_new: int = 0
    events_new: int = 0
    bars_written: int = 0
    returns_new: int = 0
    events_measured: int = 0
    reactions_new: int = 0
    alerts_new: int = 0
    problems: list[str] = field(default_factory=list)
    #: The pass was asked to stop and ended at a safe point, its remaining work left to the next pass.
    stopped: bool = False

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if isinstance(v, int) and not isinstance(v, bool)}


class PassStopped(BaseException):
    """Raised at a safe point when the pass has been asked to stop.

    A ``BaseException`` (like ``KeyboardInterrupt``), so no handler meant for
    a failing source or symbol takes it for one: it ends the pass.
    """


def check_loss(stage: str, seen: int, dropped: int, allowed: float) -> None:
    """Raise :class:`MaxLossExceededError` when ``stage`` dropped too large a share."""
    if seen and dropped / seen > allowed:
        raise MaxLossExceededError(
            f"{stage}: dropped {dropped} of {seen} items ({dropped / seen:.0%}), more than the "
            f"allowed {allowed:.0%} (MONITOR_MAX_DROP_SHARE); see the warnings above for each reason"
        )


def make_price_source(settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> PriceSource:
    """The price source the settings name; ``sleep`` waits between retries (Yahoo)."""
    if settings.price_source == "yahoo":
        from monitor.prices.yahoo import YahooPriceSource

        return YahooPriceSource(sleep=sleep)
    from monitor.prices.snapshot import SnapshotPriceSource

    return SnapshotPriceSource(settings.snapshot_dir)


def make_sources(settings: Settings, instruments: Iterable[Instrument]) -> list[NewsSource]:
    """The news sources the settings configure: files, every feed, and Yahoo news if asked."""
    found: list[NewsSource] = [FilesNewsSource(settings.news_folders, settings.tz)]
    for feed in settings.feeds:
        from monitor.news.feeds import FeedSource

        found.append(
            FeedSource(
                f"feed:{feed.name}", feed.url, default_tz=settings.tz,
                allow_private=settings.allow_private_feeds, max_bytes=settings.feed_max_bytes,
                connect_timeout=settings.feed_connect_timeout, read_timeout=settings.feed_read_timeout,
            )
        )
    if settings.yahoo_news:
        from monitor.news.yahoo import YahooNewsSource

        symbols = [i.symbol for i in instruments if i.taggable]
        found.append(YahooNewsSource(symbols))
    return found


#: Bodies at least this many words long are fingerprinted without their title:
#: republished stories mostly differ in the headline.
STORY_BODY_WORDS = 20


def story_text(article: Article) -> str:
    """The text a story fingerprint is taken of: the body, or title and body when it is short."""
    if len(article.body.split()) >= STORY_BODY_WORDS:
        return article.body
    return article.title + "\n" + article.body


def source_kind(source: NewsSource) -> str:
    """``files``, ``feed``, ``yahoo`` or ``jsonl``: the part of the name before ':'."""
    return source.name.split(":", 1)[0]


def source_rows(sources: Iterable[NewsSource]) -> list[tuple[str, str, str | None]]:
    """(name, kind, url) of each source, as the sources table registers them."""
    return [(src.name, source_kind(src), getattr(src, "url", None)) for src in sources]


def make_universe(settings: Settings) -> Universe:
    """The tagger's universe: the bundled one with the watchlist on top, or the watchlist alone."""
    folder = settings.universe_folder if settings.tag_universe else None
    return load_universe(folder, settings.watchlist_path)


def _stamp(path: Path) -> tuple[str, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path), st.st_mtime_ns, st.st_size)


#: The last universe and tagger built, with the files they came from (see :func:`universe_and_tagger`).
_TAGGER_CACHE: dict[tuple[Any, ...], tuple[Universe, Tagger]] = {}


def universe_and_tagger(settings: Settings) -> tuple[Universe, Tagger]:
    """The universe and its tagger, built once and reused while their files are unchanged.

    Building the tagger's automaton takes about half a second; the scheduler
    builds a pipeline every pass, so the last one built is kept and rebuilt
    only when the universe folder's files or the watchlist change (their
    modification time or size), or the settings point elsewhere.
    """
    folder = settings.universe_folder if settings.tag_universe else None
    files = sorted(folder.iterdir()) if folder is not None and folder.is_dir() else []
    key = (str(folder), str(settings.watchlist_path), _stamp(Path(settings.watchlist_path)),
           tuple(_stamp(f) for f in files))
    found = _TAGGER_CACHE.get(key)
    if found is None:
        universe = make_universe(settings)
        found = (universe, Tagger(universe))
        _TAGGER_CACHE.clear()
        _TAGGER_CACHE[key] = found
    return found


#: Intraday reactions are measured from these bars, for events up to this many days old (Yahoo keeps 5m bars 60 days).
REACTION_INTERVAL = "5m"
REACTION_DAYS = 59


def event_flags(
    ev: Event,
    others: Sequence[tuple[str, date]],
    grid: pd.DatetimeIndex,
    volumes: pd.Series,
    estimation: tuple[int, int],
    last_rel: int,
) -> dict[str, Any]:
    """An event's confounding flag and abnormal volume.

    ``confounded``: another event of the same symbol (another article, on
    another session) falls between the estimation window's start and the
    last event window's end. Abnormal volume: log(day-0 volume / mean
    estimation-window volume), and the z score of day 0's log volume against
    the estimation window's log volumes (sample sd); None without volumes.
    """
    session = pd.Timestamp(ev.session)
    position = grid.searchsorted(session)
    first = grid[max(0, position + estimation[0])] if len(grid) else session
    last_pos = min(len(grid) - 1, position + last_rel)
    last = grid[last_pos] if len(grid) and last_pos >= 0 else session
    confounded = any(
        key != ev.article_key and day != ev.session and first <= pd.Timestamp(day) <= last for key, day in others
    )
    av_log = av_z = None
    if len(grid) and position < len(grid) and grid[position] == session:
        lo, hi = position + estimation[0], position + estimation[1]
        est = volumes.iloc[max(0, lo): max(0, hi + 1)].to_numpy(dtype="float64")
        est = est[np.isfinite(est) & (est > 0)]
        v0 = float(volumes.iloc[position]) if np.isfinite(volumes.iloc[position]) else float("nan")
        if len(est) >= 2 and v0 > 0:
            av_log = float(np.log(v0 / est.mean()))
            logs = np.log(est)
            sd = float(logs.std(ddof=1))
            av_z = float((np.log(v0) - logs.mean()) / sd) if sd > 0 else None
    return {"confounded": confounded, "abnormal_volume_log": av_log, "abnormal_volume_z": av_z}


class Pipeline:
    """The stages wired together for one settings object and one store."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        sources: Sequence[NewsSource] | None = None,
        price_source: PriceSource | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        #: Asked between steps (a source's poll, a symbol's measurement, a reaction): True ends the pass there.
        self.should_stop = should_stop or (lambda: False)
        self.engine = engine
        self.watchlist = load_watchlist(settings.watchlist_path)
        self.universe, self.tagger = universe_and_tagger(settings)
        #: Every instrument the pipeline may tag and measure, by symbol.
        self.instruments = self.universe.instruments
        self.sources = list(sources) if sources is not None else make_sources(settings, self.watchlist)
        self.price_source = price_source or make_price_source(settings, sleep=self.pause)
        self._stories: StoryIndex | None = None
        self._unknown_reported: set[str] = set()

    # Stage 1-3: ingest, tag, place in market time -------------------------
    def ingest(self, report: PassReport) -> None:
        """Poll every source; one failing source never stops the others."""
        with self.engine.begin() as conn:
            repo.save_instruments(conn, self._priced_instruments(self.watchlist))
            repo.register_sources(conn, source_rows(self.sources))
        for source in self.sources:
            self._checkpoint()
            self.poll(source, report)

    def poll(self, source: NewsSource, report: PassReport) -> None:
        """One poll of one source, stored whole or not at all, and its health recorded.

        The cyclic garbage collector is paused while a poll runs: a large feed
        allocates hundreds of thousands of small objects that all stay alive
        until the poll ends, and the collector's passes over them cost more
        than the poll's own work. Reference counting still frees everything
        else at once, and the collector resumes when the poll is done.
        """
        paused = gc.isenabled()
        gc.disable()
        try:
            self._poll(source, report)
        finally:
            if paused:
                gc.enable()

    def _poll(self, source: NewsSource, report: PassReport) -> None:
        started_at = _clock.now()
        clock = time.perf_counter()
        with self.engine.connect() as conn:
            state = repo.source_state(conn, source.name)
        try:
            batch = source.fetch(state)
            check_loss(f"news source {source.name}", batch.seen, len(batch.dropped), self.settings.max_drop_share)
        except Exception as exc:  # noqa: BLE001 - a broken source must not stop the others
            message = str(exc) if isinstance(exc, MonitorError) else f"{exc.__class__.__name__}: {exc}"
            log.warning("source %s failed: %s", source.name, message)
            report.problems.append(f"{source.name}: {message}")
            with self.engine.begin() as conn:
                health = repo.record_poll(
                    conn, source.name, started_at=started_at, status="failed", error=message,
                    duration_ms=(time.perf_counter() - clock) * 1000,
                    unhealthy_after=self.settings.unhealthy_after,
                )
            if health == "unhealthy":
                log.warning("source %s is unhealthy: %d failed or empty polls in a row", source.name,
                            self.settings.unhealthy_after)
            return
        report.articles_seen += batch.seen
        report.articles_dropped += len(batch.dropped)
        if batch.degraded:
            log.warning("source %s degraded: %s (its entries are kept)", source.name, batch.warning)
        try:
            with self.engine.begin() as conn:
                new = self._store_batch(conn, batch, report)
                status = "not_modified" if batch.not_modified else "degraded" if batch.degraded else "ok"
                health = repo.record_poll(
                    conn, source.name, started_at=started_at, status=status, seen=batch.seen, new=new,
                    dropped=len(batch.dropped), error=batch.warning, state=batch.state,
                    duration_ms=(time.perf_counter() - clock) * 1000,
                    unhealthy_after=self.settings.unhealthy_after,
                )
        except BaseException:
            self._stories = None  # the index saw articles that were rolled back
            raise
        if health == "unhealthy":
            log.warning("source %s is unhealthy: it returned nothing %d polls in a row", source.name,
                        self.settings.unhealthy_after)
        log.info("%s: %d items, %d new, %d already held, %d dropped%s", source.name, batch.seen, new,
                 len(batch.articles) - new, len(batch.dropped), " (not modified)" if batch.not_modified else "")

    @property
    def stories(self) -> StoryIndex:
        """The near-duplicate index, loaded from the store on first use."""
        if self._stories is None:
            window = timedelta(hours=self.settings.story_window_hours)
            index = StoryIndex(max_distance=self.settings.story_max_distance, window=window)
            with self.engine.connect() as conn:
                index.load(repo.story_rows(conn))
            self._stories = index
        return self._stories

    def _store_batch(self, conn: Connection, batch: SourceBatch, report: PassReport) -> int:
        """Store the new articles of a batch with their stories, mentions and events."""
        unique: dict[str, Article] = {}
        for article in batch.articles:
            unique.setdefault(article.key, article)
        fresh = sorted(unique.values(), key=lambda a: a.published_at)
        urls = {a.key: canonical_url(a.url) for a in fresh}
        known = repo.known_identities(conn, unique, (a.guid for a in fresh if a.guid), (u for u in urls.values() if u))
        kept: list[Article] = []
        for article in fresh:
            why = known.seen(article.key, article.guid, urls[article.key])
            if why:
                report.duplicates += 1
                log.debug("%s: %s is a duplicate (%s)", batch.source, article.source_id, why)
                continue
            known.add(article.key, article.guid, urls[article.key])
            kept.append(article)
        if not kept:
            return 0
        fingerprints = simhashes([story_text(a) for a in kept])
        extra: dict[str, dict[str, Any]] = {}
        firsts: set[str] = set()
        for article, fingerprint in zip(kept, fingerprints):
            match = self.stories.add(article.key, int(fingerprint), article.published_at)
            extra[article.key] = {
                "canonical_url": urls[article.key], "story_key": match.story_key,
                "fingerprint": int(fingerprint), "novelty": match.novelty,
            }
            if match.is_first:
                firsts.add(article.key)
            else:
                report.repeats += 1
        report.articles_new += repo.save_articles(conn, kept, extra)
        events: list[Event] = []
        tagged = []
        placed: dict[tuple[datetime, str, bool], EventTime] = {}
        for article in kept:
            tags = self.tagger.tag(article.title, article.body)
            tagged.append((article.key, tags))
            if article.key in firsts and not article.undated:
                events.extend(self._place(article, tags, placed))
        report.mentions_new += repo.save_mentions(conn, tagged)
        if events:
            repo.save_instruments(conn, self._priced_instruments(self.instruments[e.symbol] for e in events))
        report.events_new += repo.save_events(conn, events)
        return len(kept)

    def _priced_instruments(self, instruments: Iterable[Instrument]) -> list[Instrument]:
        """These instruments and their benchmarks, once each: the instruments rows a pass needs."""
        out: dict[str, Instrument] = {}
        for instrument in instruments:
            out[instrument.symbol] = instrument
            bench = self.instruments.get(instrument.benchmark or "")
            if bench is not None:
                out[bench.symbol] = bench
        return list(out.values())

    def _place(
        self, article: Article, tags: Sequence[TickerTag], memo: dict[tuple[datetime, str, bool], EventTime]
    ) -> list[Event]:
        """Events of the article's tags that clear the relevance floor.

        ``memo`` keeps the market time of each (time, calendar, date-only)
        already placed in this batch: many articles share them.
        """
        placed_events = []
        for tag in tags:
            if tag.relevance < self.settings.min_relevance:
                log.debug("%s: %s below the relevance floor (%.1f)", article.source_id, tag.symbol, tag.relevance)
                continue
            instrument = self.instruments.get(tag.symbol)
            if instrument is None:
                # An exchange-qualified ticker the universe lacks ("OTCPK:XXXXF"): tagged, not measured.
                if tag.symbol not in self._unknown_reported:
                    self._unknown_reported.add(tag.symbol)
                    log.warning(
                        "%s: ticker %s is not in the universe; it is tagged but not measured "
                        "(add it to the watchlist to measure it)", article.source_id, tag.symbol,
                    )
                continue
            where = (article.published_at, instrument.calendar, article.date_only)
            placed = memo.get(where)
            if placed is None:
                placed = memo[where] = calendars.event_time(
                    article.published_at, instrument.calendar, date_only=article.date_only
                )
            placed_events.append(
                Event(
                    article_key=article.key,
                    symbol=tag.symbol,
                    published_at=article.published_at,
                    session=placed.session,
                    timing=placed.timing,
                    calendar=placed.calendar,
                    date_only=article.date_only,
                    relevance=tag.relevance,
                )
            )
        return placed_events

    # Stage 4-5: prices and impact -----------------------------------------
    def measure(self, report: PassReport, now: datetime) -> None:
        windows = self.settings.window_list
        with self.engine.connect() as conn:
            todo = repo.events_to_measure(
                conn, windows, lambda symbol: self.settings.model_for(self.instruments[symbol].benchmark)
                if symbol in self.instruments else self.settings.model,
            )
        by_symbol: dict[str, list[Event]] = defaultdict(list)
        for ev in todo:
            by_symbol[ev.symbol].append(ev)
        for symbol in sorted(set(by_symbol) - set(self.instruments)):
            count = len(by_symbol.pop(symbol))
            report.problems.append(f"{symbol}: no longer in the watchlist; its {count} event(s) are not measured")
        for symbol, evs in sorted(by_symbol.items()):
            self._checkpoint()
            with self.engine.begin() as conn:
                rows, written = self._measure_symbol(conn, self.instruments[symbol], evs, now, report)
                report.bars_written += written
                report.returns_new += repo.save_event_returns(conn, rows)
                report.events_measured += len(evs)

    def _measure_symbol(
        self, conn, instrument: Instrument, evs: list[Event], now: datetime, report: PassReport  # noqa: ANN001
    ) -> tuple[list[EventReturn], int]:
        s = self.settings
        model = s.model_for(instrument.benchmark)
        est_start, _ = s.estimation
        first_rel = min(est_start, *(w[0] for w in s.window_list)) - 1  # one more close for returns
        last_rel = max(w[1] for w in s.window_list)
        cal = instrument.calendar
        first = min(ev.session for ev in evs)
        last = max(ev.session for ev in evs)
        start = calendars.sessions_window(cal, first, -first_rel, 0)[0].date()
        end = calendars.sessions_window(cal, last, 0, last_rel)[-1].date()
        written = 0
        try:
            written += ensure_daily_bars(conn, self.price_source, instrument.symbol, cal, start, end, now)
            if instrument.benchmark:
                bench = self.instruments.get(instrument.benchmark)
                written += ensure_daily_bars(
                    conn, self.price_source, instrument.benchmark, bench.calendar if bench else cal, start, end, now
                )
        except PriceSourceUnavailableError:
            raise  # the source cannot be reached at all: stop the pass rather than mark every event
        except PriceError as exc:
            log.warning("%s: no prices (%s); its events are measured again on the next pass", instrument.symbol, exc)
            report.problems.append(f"{instrument.symbol}: {exc}")
            return [self._failed(ev, instrument, model, w, "no_prices", str(exc)) for ev in evs for w in s.window_list], 0
        last_closed = calendars.last_closed_session(cal, now)
        grid = calendars.sessions_in_range(cal, start, min(end, last_closed))
        asset = impact.simple_returns(daily_closes(conn, instrument.symbol, grid))
        bench_returns = (
            impact.simple_returns(daily_closes(conn, instrument.benchmark, grid)) if instrument.benchmark else None
        )
        repo.save_event_flags(conn, self._event_flags(conn, instrument, evs, grid))
        rows = []
        for ev in evs:
            result = impact.event_study(
                asset, bench_returns, pd.Timestamp(ev.session), model=model,
                estimation=s.estimation, windows=s.window_list, min_obs=s.min_estimation_obs,
            )
            if result.status != "ok":
                log.debug("%s %s: %s", instrument.symbol, ev.session, result.reason)
            fit = result.fit
            for w in result.windows:
                rows.append(
                    EventReturn(
                        article_key=ev.article_key, symbol=ev.symbol, window=w.window, model=model,
                        benchmark=instrument.benchmark, raw_return=w.raw_return,
                        benchmark_return=w.benchmark_return, abnormal_return=w.abnormal_return,
                        car=w.car, t_stat=w.t_stat, n_obs=w.n_obs, complete=w.complete,
                        status=result.status, reason=result.reason,
                        alpha=fit.alpha if fit else None, beta=fit.beta if fit else None,
                        sigma=fit.sigma if fit else None, estimation_obs=fit.n_obs if fit else 0,
                    )
                )
        return rows, written

    def _event_flags(
        self, conn: Connection, instrument: Instrument, evs: list[Event], grid: pd.DatetimeIndex
    ) -> list[dict[str, Any]]:
        """Confounding and abnormal volume of each event (see :func:`event_flags`)."""
        est_start, est_end = self.settings.estimation
        last_rel = max(w[1] for w in self.settings.window_list)
        others = repo.event_sessions(conn, instrument.symbol)
        volumes = (
            repo.load_close_matrix(conn, [instrument.symbol], grid[0].date(), grid[-1].date(), field="volume")
            .reindex(grid)[instrument.symbol]
            if len(grid) else pd.Series(dtype="float64")
        )
        return [
            {"article_key": ev.article_key, "symbol": ev.symbol,
             **event_flags(ev, others, grid, volumes, (est_start, est_end), last_rel)}
            for ev in evs
        ]

    def raise_alerts(self, report: PassReport, now: datetime) -> None:
        """Evaluate the alert rules on what the pass stored, then deliver what is due (see :mod:`monitor.alerts`).

        A channel that fails leaves its deliveries pending for a later pass; it never fails the pass.
        """
        if not self.settings.alert_rules:
            return
        from monitor import alerts

        with self.engine.begin() as conn:
            report.alerts_new += len(alerts.evaluate(conn, self.settings, now))
        delivery = alerts.deliver(self.engine, self.settings, now)
        for error in delivery.errors:
            report.problems.append(f"alert delivery: {error}")

    def measure_reactions(self, report: PassReport, now: datetime) -> None:
        """Intraday reactions of timed events whose day 0 is recent enough for intraday bars.

        Only price sources that hold intraday bars (Yahoo) are asked; a
        source that has none for an event leaves one reason and is not asked
        again for it.
        """
        if self.price_source.name == "snapshot":
            return
        with self.engine.connect() as conn:
            todo = repo.reactions_to_measure(conn, now - timedelta(days=REACTION_DAYS))
        for event in todo:
            if event.symbol in self.instruments:
                self._checkpoint()
                with self.engine.begin() as conn:
                    self._measure_reaction(conn, event, self.instruments[event.symbol], now, report)

    def _measure_reaction(self, conn, event: Event, instrument: Instrument, now: datetime, report: PassReport) -> None:  # noqa: ANN001
        from monitor.impact.intraday import reactions

        cal = instrument.calendar
        start = calendars.sessions_window(cal, event.session, 1, 0)[0].date()
        symbols = [instrument.symbol] + ([instrument.benchmark] if instrument.benchmark else [])
        interval = REACTION_INTERVAL
        try:
            for symbol in symbols:
                other = self.instruments.get(symbol)
                rep = ensure_bars(conn, self.price_source, symbol, other.calendar if other else cal, start,
                                  event.session, now, interval=REACTION_INTERVAL)
                if symbol == instrument.symbol:  # the benchmark is read at the asset's interval
                    interval = rep.served[0] if rep.served else REACTION_INTERVAL
            bars = {symbol: repo.load_bars(conn, symbol, interval, start, event.session) for symbol in symbols}
        except PriceSourceUnavailableError:
            raise
        except PriceError as exc:
            log.info("%s: no intraday bars for %s (%s)", event.symbol, event.session, exc)
            from monitor.impact.intraday import Reaction

            repo.save_reactions(conn, event.article_key, event.symbol, interval, [
                Reaction(h, None, None, None, None, None, True, f"no intraday bars: {exc}")
                for h in ("5m", "15m", "60m", "close")
            ])
            return
        if interval == "1d":
            return
        found = reactions(
            event.published_at, bars[instrument.symbol], bars.get(instrument.benchmark or ""),
            session=pd.Timestamp(event.session), session_close=calendars.session_close(cal, event.session),
            interval=interval,
        )
        report.reactions_new += repo.save_reactions(conn, event.article_key, event.symbol, interval, found)

    @staticmethod
    def _failed(ev: Event, instrument: Instrument, model: str, window: tuple[int, int], status: str, reason: str) -> EventReturn:
        return EventReturn(
            article_key=ev.article_key, symbol=ev.symbol, window=window, model=model,
            benchmark=instrument.benchmark, raw_return=None, benchmark_return=None,
            abnormal_return=None, car=None, t_stat=None, n_obs=0, complete=False,
            status=status, reason=reason,
        )

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` (a retry's back-off), ending the pass at once if it is asked to stop meanwhile.

        The step in progress is then left uncommitted (its transaction rolls
        back) and done again by the next pass.
        """
        deadline = time.monotonic() + seconds
        while True:
            if self.should_stop():
                raise PassStopped
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.1))

    def _checkpoint(self) -> None:
        """A safe point: every step before it is committed; stop here if asked."""
        if self.should_stop():
            raise PassStopped

    def run_pass(self, now: datetime | None = None) -> PassReport:
        """Take everything new through every stage; record the run in job_runs.

        When :attr:`should_stop` turns true the pass ends at the next safe
        point, is recorded as ``stopped`` and returns its report with
        ``stopped`` set; what it did not reach is found again by the next
        pass, since every stage works from what the store holds.
        """
        now = now or _clock.now()
        report = PassReport()
        with self.engine.begin() as conn:
            run_id = repo.start_job(conn, "pass")
        try:
            self.ingest(report)
            self.measure(report, now)
            self.measure_reactions(report, now)
            self._checkpoint()
            self.raise_alerts(report, now)
        except PassStopped:
            report.stopped = True
            log.info("pass stopped at a safe point; the next pass continues from there")
            with self.engine.begin() as conn:
                repo.finish_job(conn, run_id, "stopped", report.counts(),
                                "stopped before the end; the next pass continues")
            return report
        except BaseException as exc:
            with self.engine.begin() as conn:
                repo.finish_job(conn, run_id, "failed", report.counts(), f"{exc.__class__.__name__}: {exc}")
            raise
        with self.engine.begin() as conn:
            repo.finish_job(conn, run_id, "ok" if not report.problems else "partial", report.counts(),
                            "; ".join(report.problems) or None)
        return report


def results_table(engine: Engine, windows: Sequence[tuple[int, int]]) -> list[dict]:
    """One record per event for display: day-0 AR, CAR[-1,+1] and its t, per the windows held.

    Keys: article_key, title, source, published_at, symbol, session, timing,
    date_only, relevance, model, benchmark, status, reason, ``mentions`` (a list
    of matched, method, start, end) and ``windows``: for each window ``"s:e"``
    a dict of raw_return, benchmark_return, abnormal_return, car, t_stat,
    n_obs, complete.
    """
    with engine.connect() as conn:
        frame = repo.event_results(conn)
        if frame.empty:
            return []
        found = repo.mentions_of(conn, frame["article_key"].unique())
    wanted = {f"{s}:{e}" for s, e in windows}
    out: dict[tuple[str, str], dict] = {}
    for rec in frame.to_dict("records"):
        key = (rec["article_key"], rec["symbol"])
        row = out.setdefault(key, {
            k: rec[k] for k in ("article_key", "title", "source", "published_at", "symbol", "session",
                                "timing", "date_only", "relevance", "model", "benchmark", "status", "reason")
        } | {"mentions": found.get(key, []), "windows": {}})
        if pd.isna(rec.get("window_start")):
            continue
        label = f"{int(rec['window_start'])}:{int(rec['window_end'])}"
        if label not in wanted:
            continue
        row["model"], row["status"], row["reason"] = rec["model"], rec["status"], rec["reason"]
        row["windows"][label] = {
            k: (None if pd.isna(rec[k]) else rec[k])
            for k in ("raw_return", "benchmark_return", "abnormal_return", "car", "t_stat", "n_obs", "complete")
        }
    return list(out.values())


