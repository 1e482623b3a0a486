"""Yahoo Finance news through yfinance (with :mod:`monitor.prices.yahoo`, the only yfinance import).

:class:`YahooNewsSource` asks ``yfinance.Ticker(symbol, session=...).get_news(count=...)``
for each watched symbol and turns the items into :class:`~monitor.models.Article`
records with :func:`parse_news_item`.

What yfinance 1.7 requests
--------------------------
One ``POST https://finance.yahoo.com/xhr/ncp?queryRef=latestNews&serviceKey=ncp_fin&crumb=...``
per symbol, with the JSON body ``{"serviceConfig": {"snippetCount": count, "s": [symbol]}}``,
after the usual cookie (``https://fc.yahoo.com``) and crumb
(``https://query1.finance.yahoo.com/v1/test/getcrumb``) steps. It reads
``data.tickerStream.stream`` of the answer and removes the items that carry
a non-empty ``ad`` list. An answer of HTTP 400 or more is asked once more
with yfinance's other cookie strategy (``guce.yahoo.com`` consent); a second
429 raises ``YFRateLimitError``.

Item shapes
-----------
Two shapes are accepted, told apart by a ``content`` mapping:

* flat (what older yfinance versions got from Yahoo's search API until
  early 2025, and older recordings): ``uuid``,
  ``title``, ``publisher``, ``link``, ``providerPublishTime`` (epoch seconds,
  UTC), ``type``, ``relatedTickers``, ``thumbnail``;
* nested (the ``ncp`` stream since 2025): ``{"id": ..., "content": {"id",
  "contentType", "title", "summary", "description" (HTML), "pubDate"
  ("2025-02-04T21:35:00Z"), "displayTime", "provider": {"displayName"},
  "canonicalUrl": {"url"}, "clickThroughUrl": {"url"}, "finance":
  {"stockTickers": [{"symbol"}]}}}``.

Mapping to :class:`~monitor.models.Article`: ``source`` is ``"yahoo"``,
``source_id`` and ``guid`` the item's ``id``/``uuid``; ``url`` the canonical
URL, else the click-through URL, else ``link`` (http and https only);
``title`` and ``body`` (``summary``, else ``description``) are plain text
with markup and entities resolved. ``published_at`` comes from ``pubDate``
(else ``displayTime``) or ``providerPublishTime``; both are UTC, so
``zone_given`` is true (an ISO time without a zone is read as UTC with
``zone_given`` false, a bare date is ``date_only``). A missing or unreadable
time gives the fetch time with ``undated`` true. An item without a title is
dropped with its reason; ads are skipped without a trace.

Errors
------
One symbol's failure (HTTP error page, rate limit, an answer that is not JSON
or not shaped like a news stream, network failure) is logged on one line and
recorded as ``Dropped(item="yahoo news SYMBOL", reason=...)``; the other
symbols' news is kept and the batch is marked ``degraded``. When every symbol
fails, :meth:`YahooNewsSource.fetch` raises :class:`~monitor.errors.SourceError`.

yfinance quirks to know
-----------------------
* ``get_news`` never looks at the HTTP status (beyond raising
  ``YFRateLimitError`` for a 429 after its retry): finance.yahoo.com's "Will be
  right back" page raises ``YFDataException`` and any other page that is not
  JSON raises ``json.JSONDecodeError``, but an error answered with a JSON body
  without ``data.tickerStream`` comes back as an empty list, the same as a
  symbol without news.
* A non-JSON answer raises ``json.JSONDecodeError`` only when
  ``yfinance.config.debug.hide_exceptions`` is false, which this module sets
  process-wide (as :mod:`monitor.prices.yahoo` does); with it true, yfinance
  logs an error and returns no news.
* ``get_news`` caches its result on the ``Ticker`` object; a new ``Ticker``
  is built for every poll so each poll asks Yahoo again.
* The session given to any ``Ticker`` becomes the session of every later
  yfinance request in the process (yfinance keeps one ``YfData`` object).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timezone
from typing import Any

import yfinance as yf
from yfinance.exceptions import YFException, YFRateLimitError

from monitor import clock as _clock
from monitor.news.feeds import html_to_text
from monitor.errors import SourceError
from monitor.models import Article, ensure_utc
from monitor.news import Dropped, PollState, SourceBatch

log = logging.getLogger(__name__)

__all__ = ["YahooNewsSource", "is_ad", "item_id", "parse_news_item", "related_tickers"]

#: Most items Yahoo returns per symbol and request (yfinance's ``snippetCount``).
MAX_COUNT = 100


class YahooNewsSource:
    """Latest Yahoo Finance news for a list of symbols.

    Parameters
    ----------
    symbols
        Yahoo symbols (``CXW``, ``BTC-USD``); upper-cased, blanks and repeats
        removed, order kept. None at all gives empty polls (a watchlist
        without taggable instruments).
    session
        A curl_cffi ``Session`` (or ``requests`` session) handed to yfinance;
        None lets yfinance use its own. Tests pass a session that replays
        recorded answers from a local server.
    count
        Items asked per symbol (1 to :data:`MAX_COUNT`).
    now
        Returns the current aware time; the fetch time of undated items.

    Raises
    ------
    ValueError
        ``count`` out of range.
    """

    name = "yahoo"

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        session: object | None = None,
        count: int = 20,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        if isinstance(symbols, str):
            symbols = [symbols]
        cleaned = dict.fromkeys(s.strip().upper() for s in symbols if s and s.strip())
        if not 1 <= count <= MAX_COUNT:
            raise ValueError(f"count must be between 1 and {MAX_COUNT}, not {count}")
        self.symbols: tuple[str, ...] = tuple(cleaned)
        self.session = session
        self.count = count
        self._now = now or _clock.now
        # Make yfinance raise on an answer that is not JSON instead of logging it.
        yf.config.debug.hide_exceptions = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self.symbols)!r}, count={self.count})"

    def fetch(self, state: PollState | None = None) -> SourceBatch:
        """Ask Yahoo for the latest news of every symbol.

        Parameters
        ----------
        state
            Ignored: Yahoo's news endpoint has no conditional requests.

        Returns
        -------
        SourceBatch
            One article per story (a story listed for several symbols appears
            once), the items and symbols dropped with their reasons;
            ``degraded`` with a ``warning`` when some symbols failed.

        Raises
        ------
        SourceError
            Every symbol failed; the message says to wait and retry when
            Yahoo was rate-limiting.
        """
        fetched_at = ensure_utc(self._now())
        if not self.symbols:
            log.info("Yahoo news: no symbols to ask for")
        found: dict[str, Article] = {}
        dropped: list[Dropped] = []
        failures: dict[str, str] = {}
        rate_limited: list[str] = []
        for symbol in self.symbols:
            try:
                items = self._news(symbol)
            except _SymbolFailed as exc:
                log.warning("Yahoo news for %s failed: %s", symbol, exc.reason)
                dropped.append(Dropped(item=f"yahoo news {symbol}", reason=exc.reason))
                failures[symbol] = exc.reason
                if exc.rate_limited:
                    rate_limited.append(symbol)
                continue
            for position, item in enumerate(items, start=1):
                if isinstance(item, Mapping) and is_ad(item):
                    log.debug("Yahoo news for %s: skipped an ad (item %d)", symbol, position)
                    continue
                label = f"yahoo news {symbol} item {item_id(item) or position}"
                try:
                    article = parse_news_item(item, source=self.name, fetched_at=fetched_at)
                except ValueError as exc:
                    log.warning("skipped %s: %s", label, exc)
                    dropped.append(Dropped(item=label, reason=str(exc)))
                    continue
                earlier = found.get(article.source_id)
                if earlier is None or len(article.body) > len(earlier.body):
                    # The same story listed for several symbols is kept once, in its richest copy.
                    found[article.source_id] = article

        if failures and len(failures) == len(self.symbols):
            raise SourceError(_all_failed_message(failures, rate_limited))
        warning = None
        if failures:
            warning = f"Yahoo news failed for {', '.join(failures)} ({len(failures)} of {len(self.symbols)} symbols)"
            if rate_limited:
                warning += "; Yahoo is rate-limiting: wait a few minutes and retry"
        log.debug("Yahoo news: %d articles, %d dropped for %d symbols", len(found), len(dropped), len(self.symbols))
        return SourceBatch(
            source=self.name,
            articles=tuple(found.values()),
            dropped=tuple(dropped),
            degraded=bool(failures),
            warning=warning,
        )

    def _news(self, symbol: str) -> list[Any]:
        """The raw items yfinance returns for ``symbol``; raises :class:`_SymbolFailed`."""
        try:
            items = yf.Ticker(symbol, session=self.session).get_news(count=self.count)
        except YFRateLimitError as exc:
            raise _SymbolFailed(_rate_limit_reason(str(exc)), rate_limited=True) from exc
        except YFException as exc:
            reason = _one_line(str(exc).replace("*", "")) or type(exc).__name__
            if "currently down" in reason.lower():
                reason = "Yahoo Finance answered its 'Will be right back' error page; try again later"
            raise _SymbolFailed(reason) from exc
        except json.JSONDecodeError as exc:
            raise _SymbolFailed(f"Yahoo's answer is not JSON ({_one_line(str(exc))})") from exc
        except OSError as exc:  # curl_cffi and requests exceptions derive from OSError
            status = getattr(getattr(exc, "response", None), "status_code", None)
            status = status if isinstance(status, int) and status >= 100 else None  # curl_cffi: 0 = no answer
            reason = _one_line(str(exc)) or type(exc).__name__
            if status == 429 or "too many requests" in reason.lower():
                raise _SymbolFailed(_rate_limit_reason(reason), rate_limited=True) from exc
            raise _SymbolFailed(reason if status is None else f"HTTP {status}: {reason}") from exc
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # yfinance walks the answer with dict.get: JSON of another shape breaks it.
            raise _SymbolFailed(f"Yahoo's answer is not a news stream ({type(exc).__name__}: {_one_line(str(exc))})") from exc
        if not isinstance(items, list):
            raise _SymbolFailed(f"Yahoo's news stream is a {type(items).__name__}, not a list")
        return items


class _SymbolFailed(Exception):
    """The news request of one symbol failed."""

    def __init__(self, reason: str, *, rate_limited: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rate_limited = rate_limited


def _rate_limit_reason(detail: str) -> str:
    detail = _one_line(detail)
    text = "Yahoo is rate-limiting requests (HTTP 429 Too Many Requests); wait a few minutes and retry"
    return text if not detail or "rate" in detail.lower() or "too many" in detail.lower() else f"{text} ({detail})"


def _all_failed_message(failures: Mapping[str, str], rate_limited: Sequence[str]) -> str:
    if len(rate_limited) == len(failures):
        return (
            f"Yahoo is rate-limiting news requests (asked for {', '.join(failures)}); "
            "wait a few minutes and retry"
        )
    details = "; ".join(f"{symbol}: {reason}" for symbol, reason in failures.items())
    message = f"Yahoo news could not be fetched for any symbol ({details})"
    if rate_limited:
        message += "; wait a few minutes and retry"
    return message


# -- one item ----------------------------------------------------------------

def is_ad(item: Mapping[str, Any]) -> bool:
    """True for an advertisement in the news stream (an item with a non-empty ``ad``)."""
    return bool(item.get("ad"))


def item_id(item: object) -> str | None:
    """The item's identifier: ``id`` (nested shape), ``content.id`` or ``uuid`` (flat)."""
    if not isinstance(item, Mapping):
        return None
    content = item.get("content")
    candidates = [item.get("id"), item.get("uuid")]
    if isinstance(content, Mapping):
        candidates.insert(1, content.get("id"))
    for value in candidates:
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def related_tickers(item: Mapping[str, Any]) -> list[str]:
    """The symbols Yahoo lists as related to an item, in its order, without repeats.

    Read from ``relatedTickers`` (flat shape: a list of strings) and
    ``content.finance.stockTickers[].symbol`` (nested shape). Yahoo's list is
    not always about the item (it has returned front-page news for a symbol),
    so it is kept apart from :class:`~monitor.models.Article` and tagging
    stays text-based; the list is meant for cross-checks later.

    Parameters
    ----------
    item
        One raw news item, either shape.

    Returns
    -------
    list of str
        Upper-cased symbols; empty when Yahoo gave none.
    """
    found: list[Any] = []
    flat = item.get("relatedTickers")
    if isinstance(flat, list):
        found.extend(flat)
    content = item.get("content")
    if isinstance(content, Mapping):
        nested_flat = content.get("relatedTickers")
        if isinstance(nested_flat, list):
            found.extend(nested_flat)
        finance = content.get("finance")
        tickers = finance.get("stockTickers") if isinstance(finance, Mapping) else None
        if isinstance(tickers, list):
            found.extend(t.get("symbol") for t in tickers if isinstance(t, Mapping))
    symbols = (s.strip().upper() for s in found if isinstance(s, str) and s.strip())
    return list(dict.fromkeys(symbols))


def parse_news_item(item: Mapping[str, Any], *, source: str, fetched_at: datetime) -> Article:
    """Turn one raw Yahoo news item (flat or nested shape) into an :class:`Article`.

    Parameters
    ----------
    item
        One element of yfinance's ``get_news()`` list.
    source
        The article's ``source`` (``"yahoo"``).
    fetched_at
        Aware time of the fetch: the ``published_at`` of an undated item.

    Returns
    -------
    Article
        Plain-text title and body, aware UTC ``published_at``.

    Raises
    ------
    ValueError
        The item cannot be used: not a mapping, an ad, no title, or neither
        an id nor a URL to name it by.
    """
    if not isinstance(item, Mapping):
        raise ValueError(f"not a JSON object but {type(item).__name__}")
    if is_ad(item):
        raise ValueError("an advertisement, not news")
    content = item.get("content")
    fields: Mapping[str, Any] = content if isinstance(content, Mapping) else item
    nested = fields is content

    title = " ".join(html_to_text(fields.get("title")).split())
    if not title:
        raise ValueError("no title")
    body = html_to_text(fields.get("summary")) or html_to_text(fields.get("description"))
    url = (
        _http_url(_url_of(fields.get("canonicalUrl")))
        or _http_url(_url_of(fields.get("clickThroughUrl")))
        or _http_url(fields.get("link"))
    )
    ident = item_id(item) or url
    if not ident:
        raise ValueError("neither an id nor a URL")

    published_at, date_only, zone_given, undated = _published(fields, nested, fetched_at)
    if undated:
        log.debug("Yahoo news item %s has no usable time; dated with the fetch time", ident)
    return Article(
        source=source,
        source_id=ident,
        title=title,
        body=body,
        published_at=published_at,
        date_only=date_only,
        zone_given=zone_given,
        url=url,
        guid=item_id(item),
        undated=undated,
    )


def _published(fields: Mapping[str, Any], nested: bool, fetched_at: datetime) -> tuple[datetime, bool, bool, bool]:
    """``(published_at, date_only, zone_given, undated)`` of an item's fields."""
    stamps = (fields.get("pubDate"), fields.get("displayTime")) if nested else ()
    for stamp in stamps:
        parsed = _parse_iso(stamp)
        if parsed is not None:
            return (*parsed, False)
    epoch = _parse_epoch(fields.get("providerPublishTime"))
    if epoch is not None:
        return epoch, False, True, False
    return ensure_utc(fetched_at), False, False, True


def _parse_iso(value: object) -> tuple[datetime, bool, bool] | None:
    """An ISO 8601 stamp as ``(utc, date_only, zone_given)``; None when unusable.

    Yahoo's stamps are UTC (``2025-02-04T21:35:00Z``): a time without a zone
    is read as UTC but not marked as given.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        if "T" not in text and " " not in text:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=timezone.utc), True, False
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "Zz" else text)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=timezone.utc), False, False
        return moment.astimezone(timezone.utc), False, True
    except (ValueError, OverflowError):
        return None


def _parse_epoch(value: object) -> datetime | None:
    """Epoch seconds (an int, a float or a string of digits) as aware UTC; None when unusable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or value != value or value <= 0:  # NaN, negative, zero
        return None
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _url_of(value: object) -> object:
    return value.get("url") if isinstance(value, Mapping) else None


def _http_url(value: object) -> str | None:
    """``value`` when it is an http(s) URL (no ``javascript:`` links reach the dashboard), else None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    return url if url.lower().startswith(("https://", "http://")) and len(url) > 8 else None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
