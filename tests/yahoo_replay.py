"""Replay Yahoo Finance offline: a local HTTP server and a curl_cffi session that talks to it.

yfinance accepts ``session=`` (a curl_cffi ``Session``). :class:`ReplaySession`
rewrites every ``https://<anything>.yahoo.com`` URL to the local
:class:`YahooReplayServer`, so yfinance's whole code path (cookie, crumb, the
time zone probe, the chart request, parsing, adjusting) runs against recorded
responses and never reaches the internet. A URL whose host is neither Yahoo's
nor local raises :class:`UnexpectedHostError`.

Typical use in a test module (fixtures belong to the test files)::

    import yahoo_replay  # tests/ is on sys.path: pytest inserts a conftest's folder

    @pytest.fixture
    def yahoo(tmp_path):
        with yahoo_replay.replay_yahoo(tmp_path) as replay:
            yield replay

    def test_something(yahoo):
        source = YahooPriceSource(session=yahoo.session())
        ...
        assert yahoo.server.chart_requests("CXW")

:func:`replay_yahoo` starts a server, points yfinance's caches (time zone,
cookie, ISIN) at a fresh folder under ``tmp_path`` and resets yfinance's
process-wide state (its ``YfData`` singleton with the cached cookie and crumb,
and the in-memory response cache) on entry and on exit, so nothing leaks
between tests or into ``~/.cache``.

Chart answers
-------------
Static daily answers live in ``tests/data/yahoo/*.json``, one file per symbol,
generated from the seeds by :mod:`yahoo_fixtures` (``python
tests/yahoo_fixtures.py --write``)::

    {"symbol": "CXW", "status": 200, "note": "...", "body": {"chart": {...}}}

``body`` is exactly what Yahoo's ``/v8/finance/chart/SYMBOL`` returns. The
file whose symbol is ``"*"`` answers every symbol without a recording (Yahoo's
404 "No data found, symbol may be delisted"). Other answers are generated per
request by :mod:`yahoo_fixtures`: intraday bars of CXW and SPY (``interval``
1m..90m; ``includePrePost`` keeps or drops the extended-hours bars) and the
split symbol ``SPLT`` as of :attr:`YahooReplayServer.as_of`. The server cuts
every body to the request's ``period1``/``period2`` (or ``range``), as Yahoo
does, and refuses what Yahoo refuses: a 1m request spanning more than 8 days
and, when :attr:`YahooReplayServer.now` is set, intraday bars older than Yahoo
keeps them (HTTP 422 with Yahoo's description).

Test controls: :meth:`YahooReplayServer.inject` (every chart answer of a
symbol), :meth:`YahooReplayServer.inject_sequence` (the next answers, one per
HTTP request, then back to normal), :meth:`YahooReplayServer.set_as_of`,
:meth:`YahooReplayServer.chart_requests` and
:meth:`YahooReplayServer.request_counts` (per symbol and interval). Note that
yfinance 1.7 sends any request answered with HTTP >= 400 a second time (with
its other cookie strategy) before giving up: one failed ``history()`` call is
two chart requests.

News
----
yfinance 1.7's ``Ticker.get_news(count=N)`` (and ``Ticker.news``) makes one
``POST https://finance.yahoo.com/xhr/ncp?queryRef=latestNews&serviceKey=ncp_fin``
(plus ``&crumb=...``) with the JSON body
``{"serviceConfig": {"snippetCount": N, "s": ["SYMBOL"]}}``, after the same
cookie (``fc.yahoo.com``) and crumb (``/v1/test/getcrumb``) steps as prices.
The server answers it from ``tests/data/yahoo_news/*.json``, one file per
symbol in the same ``{"symbol", "status", "note", "body"}`` format, where
``body`` is Yahoo's answer ``{"data": {"tickerStream": {"stream": [...]}}}``
cut to the first ``snippetCount`` items. A symbol without a recording gets
an empty stream. :meth:`YahooReplayServer.inject_news` makes a symbol's news
answer a given status or body; :meth:`YahooReplayServer.news_requests` lists
the news requests received::

    def test_news(yahoo):
        source = YahooNewsSource(["CXW", "GEO"], session=yahoo.session())
        batch = source.fetch()
        assert [r.news_symbols for r in yahoo.server.news_requests()] == [["CXW"], ["GEO"]]
        yahoo.server.inject_news("GEO", 429)   # Yahoo's plain-text "Too Many Requests"
"""

from __future__ import annotations

import copy
import json
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import yahoo_fixtures
from curl_cffi import requests as curl_requests

DATA_DIR = Path(__file__).resolve().parent / "data" / "yahoo"
NEWS_DATA_DIR = DATA_DIR.parent / "yahoo_news"
NEWS_PATH = "/xhr/ncp"
NEWS_SERVICE_KEY = "ncp_fin"
#: ``queryRef`` values yfinance sends for the tabs of ``get_news(tab=...)``.
NEWS_QUERY_REFS = frozenset({"latestNews", "newsAll", "pressRelease"})
#: What finance.yahoo.com serves while it is down (yfinance looks for "Will be right back").
YAHOO_DOWN_PAGE = "<html><head><title>Yahoo</title></head><body><h1>Will be right back...</h1></body></html>"
DEFAULT_SYMBOL = "*"
DEFAULT_CRUMB = "replayCrumb0"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
ORIGINAL_HOST_HEADER = "X-Replay-Original-Host"

_RANGE_SECONDS = {"d": 86_400, "wk": 7 * 86_400, "mo": 31 * 86_400, "y": 366 * 86_400}
#: Yahoo's names of the same interval.
_INTERVAL_ALIASES = {"1h": "60m"}
#: How far back Yahoo keeps intraday bars (days), and the longest 1m request (days).
YAHOO_MAX_AGE_DAYS = {"1m": 30, "2m": 60, "5m": 60, "15m": 60, "30m": 60, "90m": 60, "60m": 730}
YAHOO_MAX_1M_SPAN_DAYS = 8


class UnexpectedHostError(RuntimeError):
    """A test tried to reach a host that is neither Yahoo's nor local."""


@dataclass(frozen=True)
class Recording:
    """One recorded chart answer: HTTP status and the JSON body."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class ReceivedRequest:
    """A request the replay server answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    host: str  # the Yahoo host the client asked for (before the rewrite), or the local one
    headers: dict[str, str] = field(default_factory=dict, compare=False)
    body: bytes = field(default=b"", compare=False)  # the request body (POST)

    @property
    def json_body(self) -> Any:
        """The request body parsed as JSON; None when empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def news_symbols(self) -> list[str] | None:
        """The symbols of a news request (``serviceConfig.s`` of its body), else None."""
        if self.path != NEWS_PATH:
            return None
        body = self.json_body
        config = body.get("serviceConfig") if isinstance(body, dict) else None
        symbols = config.get("s") if isinstance(config, dict) else None
        return [str(s) for s in symbols] if isinstance(symbols, list) else []

    @property
    def params(self) -> dict[str, str]:
        """Query parameters with their first value."""
        return {k: v[0] for k, v in self.query.items()}

    @property
    def chart_symbol(self) -> str | None:
        """The symbol of a ``/v8/finance/chart/SYMBOL`` request, else None."""
        prefix = "/v8/finance/chart/"
        return unquote(self.path[len(prefix):]) if self.path.startswith(prefix) else None

    @property
    def interval(self) -> str:
        """The ``interval`` of a chart request (Yahoo's default ``1d``; ``1h`` read as ``60m``)."""
        interval = self.params.get("interval", "1d")
        return _INTERVAL_ALIASES.get(interval, interval)

    @property
    def is_tz_probe(self) -> bool:
        """yfinance's time zone probe: ``range=1d&interval=1d`` without a period."""
        params = self.params
        return self.chart_symbol is not None and params.get("range") == "1d" and "period1" not in params


def load_recordings(directory: str | Path = DATA_DIR) -> dict[str, Recording]:
    """Read every ``*.json`` recording of ``directory`` into symbol -> :class:`Recording`.

    Chart recordings live in :data:`DATA_DIR`, news recordings in
    :data:`NEWS_DATA_DIR` (same file format).
    """
    recordings: dict[str, Recording] = {}
    for path in sorted(Path(directory).glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        symbol = doc["symbol"]
        if symbol in recordings:
            raise ValueError(f"{path}: symbol {symbol!r} recorded twice")
        recordings[symbol] = Recording(status=int(doc["status"]), body=doc["body"])
    return recordings


def load_news_recordings(directory: str | Path = NEWS_DATA_DIR) -> dict[str, Recording]:
    """Read the news recordings (``tests/data/yahoo_news/*.json``) into symbol -> :class:`Recording`."""
    return load_recordings(directory)


def _yahoo_error(status: int, description: str) -> Recording:
    code = {400: "Bad Request", 404: "Not Found", 422: "Unprocessable Entity", 429: "Too Many Requests"}.get(status, "Error")
    return Recording(status, {"chart": {"result": None, "error": {"code": code, "description": description}}})


def cut_chart(body: Mapping[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
    """Cut a chart body to the bars a request asks for.

    ``period1 <= timestamp < period2`` when the request carries them, else the
    bars of the trailing ``range`` (``1d`` = the last day's bars, ``5d`` = the
    last five days', ``1mo``/``1y`` by seconds, ``max``/``ytd`` = all). Events
    and intraday ``meta.tradingPeriods`` are cut the same way. With no bar left
    the body takes Yahoo's empty shape: meta (without ``tradingPeriods``), no
    ``timestamp`` and ``"indicators": {"quote": [{}]}``.
    """
    result = (body.get("chart") or {}).get("result")
    if not result:
        return copy.deepcopy(dict(body))
    item = copy.deepcopy(result[0])
    stamps: list[int] = item.get("timestamp") or []
    meta = item.setdefault("meta", {})
    if "period1" in params or "period2" in params:
        lo, hi = int(params.get("period1", 0)), int(params.get("period2", 2**62))
    else:
        lo, hi = _range_bounds(params.get("range", "max"), stamps, meta.get("exchangeTimezoneName") or "UTC")
    keep = [i for i, t in enumerate(stamps) if lo <= t < hi]

    meta["range"] = params.get("range", "")
    if keep:
        item["timestamp"] = [stamps[i] for i in keep]
        indicators = item.get("indicators", {})
        for block in indicators.values():
            for series in block:
                for name, values in list(series.items()):
                    series[name] = [values[i] for i in keep]
        for kind, events in list(item.get("events", {}).items()):
            item["events"][kind] = {k: v for k, v in events.items() if lo <= int(k) < hi}
        if "tradingPeriods" in meta:
            meta["tradingPeriods"] = _cut_trading_periods(meta["tradingPeriods"], lo, hi)
    else:
        meta.pop("tradingPeriods", None)
        item.pop("timestamp", None)
        item.pop("events", None)
        item["indicators"] = {"quote": [{}]}
    return {"chart": {"result": [item], "error": None}}


def _cut_trading_periods(periods: Any, lo: int, hi: int) -> Any:
    """Keep the days of ``meta.tradingPeriods`` (either of Yahoo's shapes) that overlap ``[lo, hi)``."""
    if isinstance(periods, dict):
        days = list(zip(*(periods[k] for k in ("pre", "regular", "post")), strict=True))
        keep = [i for i, (pre, _, post) in enumerate(days) if pre[0]["start"] < hi and post[-1]["end"] > lo]
        return {k: [periods[k][i] for i in keep] for k in ("pre", "regular", "post")}
    return [day for day in periods if day[0]["start"] < hi and day[-1]["end"] > lo]


def _range_bounds(range_: str, stamps: list[int], tz: str = "UTC") -> tuple[int, int]:
    if not stamps or range_ in ("max", "ytd", ""):
        return 0, 2**62
    end = stamps[-1] + 1
    number = "".join(ch for ch in range_ if ch.isdigit())
    unit = range_[len(number):]
    count = int(number or 1)
    if unit == "d":  # trading days: the bars of the last `count` days
        zone = ZoneInfo(tz)
        days = sorted({datetime.fromtimestamp(t, zone).date() for t in stamps})
        first = days[max(0, len(days) - count)]
        return next(t for t in stamps if datetime.fromtimestamp(t, zone).date() >= first), end
    if unit not in _RANGE_SECONDS:
        raise ValueError(f"replay: unknown range {range_!r}")
    return end - count * _RANGE_SECONDS[unit], end


def yahoo_limit_error(interval: str, params: Mapping[str, str], now: datetime | None) -> Recording | None:
    """Yahoo's HTTP 422 for an intraday request it refuses, else None.

    1m requests may span at most 8 days; with ``now`` given, intraday bars are
    kept for :data:`YAHOO_MAX_AGE_DAYS` (30 days for 1m, 60 for 2m..90m, 730
    for 60m).
    """
    if interval not in YAHOO_MAX_AGE_DAYS or "period1" not in params:
        return None
    p1, p2 = int(params["period1"]), int(params.get("period2", 2**31))
    prefix = f"{interval} data not available for startTime={p1} and endTime={p2}."
    if interval == "1m" and p2 - p1 > YAHOO_MAX_1M_SPAN_DAYS * 86_400:
        return _yahoo_error(422, f"{prefix} Only {YAHOO_MAX_1M_SPAN_DAYS} days worth of 1m granularity data are allowed to be fetched per request.")
    if now is not None and p1 < int((now - timedelta(days=YAHOO_MAX_AGE_DAYS[interval])).timestamp()):
        return _yahoo_error(422, f"{prefix} The requested range must be within the last {YAHOO_MAX_AGE_DAYS[interval]} days.")
    return None


Answer = int | tuple[int, Any] | Recording | None


class YahooReplayServer:
    """A threaded local HTTP server answering like Yahoo from recordings and generated bodies.

    Routes: ``/`` (200 with a cookie, stands for fc.yahoo.com),
    ``/v1/test/getcrumb`` (the crumb), ``/v8/finance/chart/SYMBOL``,
    ``/v10/finance/quoteSummary/SYMBOL`` (Yahoo's 404 for a symbol the server
    does not know; yfinance asks it when the time zone probe fails) and
    ``/v7/finance/quote`` (empty result), ``POST /xhr/ncp`` (news, from
    ``news`` recordings). Anything else: Yahoo's 404 JSON.

    A chart request is answered, in this order, by: the next answer of the
    symbol's :meth:`inject_sequence` queue; the symbol's :meth:`inject`; the
    symbol's recording when the request's interval is the recording's
    granularity; a generated body (:mod:`yahoo_fixtures`: intraday CXW/SPY,
    SPLT as of :attr:`as_of`); the ``"*"`` recording (Yahoo's 404). Intraday
    requests Yahoo refuses get its 422 (see :func:`yahoo_limit_error`).

    Every request is recorded (:attr:`requests`).
    """

    def __init__(
        self,
        recordings: Mapping[str, Recording] | None = None,
        *,
        crumb: str = DEFAULT_CRUMB,
        news: Mapping[str, Recording] | None = None,
        generated: bool = True,
        now: datetime | None = None,
    ) -> None:
        self.recordings: dict[str, Recording] = dict(load_recordings() if recordings is None else recordings)
        self.news: dict[str, Recording] = dict(load_news_recordings() if news is None else news)
        self.crumb = crumb
        #: answer the generated bodies of :mod:`yahoo_fixtures` (intraday CXW/SPY, SPLT)
        self.generated = generated
        #: Yahoo's clock for its intraday age limits; None: no age limit
        self.now = now
        #: the date SPLT's chart is generated as of (None: its last session)
        self.as_of: date | None = None
        #: False: SPLT's split is listed but its history not yet adjusted (Yahoo's lag)
        self.history_adjusted: bool | None = None
        self._requests: list[ReceivedRequest] = []
        self._injected: dict[str, Recording] = {}
        self._sequences: dict[str, deque[Answer]] = {}
        self._injected_news: dict[str, Recording] = {}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> YahooReplayServer:
        if self._httpd is not None:
            raise RuntimeError("replay server already started")
        handler = type("_Handler", (_Handler,), {"replay": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="yahoo-replay", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        assert self._thread is not None
        self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> YahooReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("replay server not started")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- test controls -----------------------------------------------------
    @staticmethod
    def default_answer(status: int) -> Recording:
        """What Yahoo sends with ``status``: 429 its plain text, 404 its chart JSON,
        5xx its "Will be right back" page, any other status a chart JSON error."""
        if status == 429:
            return Recording(429, "Too Many Requests\r\n")  # type: ignore[arg-type]
        if status == 404:
            return _yahoo_error(404, "No data found, symbol may be delisted")
        if status >= 500:
            return Recording(status, YAHOO_DOWN_PAGE)  # type: ignore[arg-type]
        return _yahoo_error(status, f"HTTP {status}")

    def inject(self, symbol: str, status: int, body: Mapping[str, Any] | str | None = None) -> None:
        """Answer every chart request for ``symbol`` with ``status`` (and ``body``, else :meth:`default_answer`)."""
        answer = self.default_answer(status) if body is None else Recording(status, body)  # type: ignore[arg-type]
        with self._lock:
            self._injected[symbol.upper()] = answer

    def inject_sequence(self, symbol: str, answers: Iterable[Answer]) -> None:
        """Answer the next chart requests for ``symbol`` with ``answers``, one per HTTP request.

        Each answer is a status (with :meth:`default_answer`'s body), a
        ``(status, body)`` pair, a :class:`Recording`, or None for the normal
        answer. Once the queue is empty the symbol is answered as before.
        Appends to a queue already there. Remember that yfinance asks twice
        (its other cookie strategy) after any status >= 400.
        """
        with self._lock:
            self._sequences.setdefault(symbol.upper(), deque()).extend(answers)

    def pending(self, symbol: str) -> int:
        """How many answers of ``symbol``'s :meth:`inject_sequence` queue are left."""
        with self._lock:
            return len(self._sequences.get(symbol.upper(), ()))

    def set_as_of(self, day: date | None, *, history_adjusted: bool | None = None) -> None:
        """Generate SPLT's chart as Yahoo showed it on ``day`` (None: its last session).

        ``history_adjusted=False`` lists a known split without adjusting the
        history before it (the lag Yahoo sometimes shows).
        """
        with self._lock:
            self.as_of, self.history_adjusted = day, history_adjusted

    def inject_news(self, symbol: str, status: int, body: Mapping[str, Any] | str | None = None) -> None:
        """Answer every news request for ``symbol`` with ``status`` (and ``body``).

        Without ``body``: 429 gets Yahoo's plain-text "Too Many Requests",
        any other status finance.yahoo.com's HTML "Will be right back" page.
        A 200 with a ``body`` string serves that text as is (garbage JSON).
        """
        if body is None:
            body = "Too Many Requests\r\n" if status == 429 else YAHOO_DOWN_PAGE
        with self._lock:
            self._injected_news[symbol.upper()] = Recording(status, body)  # type: ignore[arg-type]

    def clear_injections(self) -> None:
        """Forget every :meth:`inject`, :meth:`inject_sequence` and :meth:`inject_news`."""
        with self._lock:
            self._injected.clear()
            self._sequences.clear()
            self._injected_news.clear()

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A copy of the requests received so far, in order."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def chart_requests(
        self, symbol: str | None = None, *, interval: str | None = None, probes: bool = True
    ) -> list[ReceivedRequest]:
        """The ``/v8/finance/chart`` requests received, for ``symbol`` and ``interval`` if given.

        ``probes=False`` leaves out yfinance's time zone probes (``range=1d``).
        """
        return [
            r for r in self.requests
            if r.chart_symbol is not None
            and (symbol is None or r.chart_symbol == symbol)
            and (interval is None or r.interval == interval)
            and (probes or not r.is_tz_probe)
        ]

    def request_counts(self) -> Counter[tuple[str, str]]:
        """Chart requests received per ``(symbol, interval)`` (time zone probes count as ``1d``)."""
        return Counter((r.chart_symbol, r.interval) for r in self.requests if r.chart_symbol is not None)

    def news_requests(self, symbol: str | None = None) -> list[ReceivedRequest]:
        """The news requests (``/xhr/ncp``) received (for ``symbol`` if given)."""
        return [
            r for r in self.requests
            if r.news_symbols is not None and (symbol is None or symbol in r.news_symbols)
        ]

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    # -- answers -----------------------------------------------------------
    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def knows(self, symbol: str) -> bool:
        """True for a symbol with a recording (status 200) or a generated chart."""
        recorded = self.recordings.get(symbol)
        if recorded is not None:
            return recorded.status == 200
        return self.generated and (symbol in yahoo_fixtures.INTRADAY_SYMBOLS or symbol == "SPLT")

    def chart_answer(self, symbol: str, params: Mapping[str, str]) -> Recording:
        key = symbol.upper()
        with self._lock:
            queue = self._sequences.get(key)
            queued: Answer | str = queue.popleft() if queue else "none"
            injected = self._injected.get(key)
            as_of, history_adjusted = self.as_of, self.history_adjusted
        if queued != "none" and queued is not None:
            if isinstance(queued, Recording):
                return queued
            if isinstance(queued, tuple):
                return Recording(queued[0], queued[1])
            return self.default_answer(int(queued))  # type: ignore[arg-type]
        if injected is not None:
            return injected
        interval = _INTERVAL_ALIASES.get(params.get("interval", "1d"), params.get("interval", "1d"))
        body = self._body(symbol, interval, params, as_of, history_adjusted)
        if isinstance(body, Recording):
            return body
        refused = yahoo_limit_error(interval, params, self.now)
        if refused is not None:
            return refused
        return Recording(200, cut_chart(body, params))

    def _body(
        self, symbol: str, interval: str, params: Mapping[str, str], as_of: date | None, history_adjusted: bool | None
    ) -> dict[str, Any] | Recording:
        recording = self.recordings.get(symbol)
        if recording is not None and recording.status != 200:
            return recording
        if recording is not None:
            result = (recording.body.get("chart") or {}).get("result") or [{}]
            if result[0].get("meta", {}).get("dataGranularity", "1d") == interval:
                return recording.body
        if self.generated:
            if symbol == "SPLT" and interval == "1d":
                return yahoo_fixtures.split_body(as_of, history_adjusted=history_adjusted)
            if symbol in yahoo_fixtures.INTRADAY_SYMBOLS and interval != "1d":
                prepost = str(params.get("includePrePost", "false")).lower() == "true"
                try:
                    return yahoo_fixtures.intraday_body(symbol, interval, include_prepost=prepost)
                except KeyError as exc:
                    return _yahoo_error(400, f"replay: {exc.args[0]}")
        if recording is not None:
            return _yahoo_error(400, f"replay: {symbol} is recorded at another interval, not {interval}")
        return self.recordings.get(DEFAULT_SYMBOL) or _yahoo_error(404, "No data found, symbol may be delisted")

    def news_answer(self, symbols: list[str], count: int | None) -> Recording:
        """The news stream of ``symbols`` (recordings in order), cut to ``count`` items."""
        with self._lock:
            injected = next((self._injected_news[s.upper()] for s in symbols if s.upper() in self._injected_news), None)
        if injected is not None:
            return injected
        stream: list[Any] = []
        for symbol in symbols:
            recording = self.news.get(symbol)
            if recording is None:
                continue
            if recording.status != 200:
                return recording
            stream.extend(copy.deepcopy(((recording.body.get("data") or {}).get("tickerStream") or {}).get("stream") or []))
        if count is not None:
            stream = stream[: max(count, 0)]
        return Recording(200, {"data": {"tickerStream": {"stream": stream}}})


class _Handler(BaseHTTPRequestHandler):
    replay: YahooReplayServer  # set on the per-server subclass
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid the 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep the test output quiet
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self.rfile.read(length) if length else b"")

    def _answer(self, body: bytes = b"") -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        host = self.headers.get(ORIGINAL_HOST_HEADER) or self.headers.get("Host", "")
        request = ReceivedRequest(self.command, parts.path, query, host, dict(self.headers.items()), body)
        self.replay._record(request)
        params = request.params
        path = parts.path

        if path == "/":
            self._send(200, "<html><body>OK</body></html>", "text/html; charset=utf-8",
                       {"Set-Cookie": "A3=d=replay&S=replay; Max-Age=31557600; Path=/; SameSite=None; HttpOnly"})
        elif path == "/v1/test/getcrumb":
            self._send(200, self.replay.crumb, "text/plain;charset=utf-8")
        elif request.chart_symbol is not None:
            answer = self.replay.chart_answer(request.chart_symbol, params)
            self._send_body(answer)
        elif path.startswith("/v10/finance/quoteSummary/"):
            symbol = unquote(path.rsplit("/", 1)[1])
            if self.replay.knows(symbol):
                self._send_body(Recording(501, {"quoteSummary": {"result": None, "error": {
                    "code": "Not Implemented", "description": f"replay: no quoteSummary recording for {symbol}"}}}))
            else:
                self._send_body(Recording(404, {"quoteSummary": {"result": None, "error": {
                    "code": "Not Found", "description": f"Quote not found for symbol: {symbol}"}}}))
        elif path == "/v7/finance/quote":
            self._send_body(Recording(200, {"quoteResponse": {"result": [], "error": None}}))
        elif path == NEWS_PATH:
            self._send_body(self._news(request))
        else:
            self._send_body(Recording(404, {"finance": {"result": None, "error": {
                "code": "Not Found", "description": "HTTP 404 Not Found"}}}))

    def _news(self, request: ReceivedRequest) -> Recording:
        def error(status: int, description: str) -> Recording:
            return Recording(status, {"error": {"code": status, "description": f"replay: {description}"}})

        if request.method != "POST":
            return error(405, f"{NEWS_PATH} takes POST, not {request.method}")
        params = request.params
        if params.get("serviceKey") != NEWS_SERVICE_KEY or params.get("queryRef") not in NEWS_QUERY_REFS:
            return error(400, f"unexpected news query {params}")
        config = request.json_body.get("serviceConfig") if isinstance(request.json_body, dict) else None
        symbols = request.news_symbols
        if not isinstance(config, dict) or not symbols:
            return error(400, "news body without serviceConfig.s")
        count = config.get("snippetCount")
        return self.replay.news_answer(symbols, count if isinstance(count, int) else None)

    def _send_body(self, answer: Recording) -> None:
        if isinstance(answer.body, str):
            self._send(answer.status, answer.body, "text/html;charset=utf-8")
        else:
            self._send(answer.status, json.dumps(answer.body), "application/json;charset=utf-8")

    def _send(self, status: int, text: str, content_type: str, headers: Mapping[str, str] | None = None) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


# -- the client side ---------------------------------------------------------

def is_yahoo_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host == "yahoo.com" or host.endswith(".yahoo.com")


def rewrite_url(url: str, base_url: str) -> tuple[str, str]:
    """Map a Yahoo URL onto ``base_url``; return (new url, original host).

    Local URLs pass unchanged. Any other host raises :class:`UnexpectedHostError`.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme in ("http", "https") and is_yahoo_host(host):
        base = urlsplit(base_url)
        return urlunsplit((base.scheme, base.netloc, parts.path or "/", parts.query, parts.fragment)), host
    if parts.scheme in ("http", "https") and host in LOCAL_HOSTS:
        return url, host
    raise UnexpectedHostError(f"replay session refused {url!r}: only Yahoo hosts (rewritten to the local server) and local hosts are allowed in tests")


class ReplaySession(curl_requests.Session):
    """A curl_cffi Session sending every Yahoo request to a local replay server.

    Redirects are not followed (libcurl would follow them without coming back
    through :meth:`request`), proxies and proxy environment variables are
    ignored, so no request can leave the machine.
    """

    def __init__(self, target: YahooReplayServer | str, **kwargs: Any) -> None:
        kwargs.setdefault("trust_env", False)
        super().__init__(**kwargs)
        self._target = target

    @property
    def base_url_for_replay(self) -> str:
        target = self._target
        return target if isinstance(target, str) else target.base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        new_url, host = rewrite_url(url, self.base_url_for_replay)
        if self.proxies or kwargs.get("proxies") or kwargs.get("proxy"):
            raise UnexpectedHostError(f"replay session refused a proxied request to {url!r}")
        headers = dict(kwargs.pop("headers", None) or {})
        headers[ORIGINAL_HOST_HEADER] = host
        kwargs["headers"] = headers
        kwargs["allow_redirects"] = False
        return super().request(method, new_url, *args, **kwargs)


# -- yfinance's process-wide state ---------------------------------------------

def reset_yfinance_state(cache_dir: str | Path | None = None) -> None:
    """Forget yfinance's process-wide state and (optionally) move its caches.

    yfinance 1.7 keeps, per process: a ``YfData`` singleton holding the
    session, cookie and crumb; an LRU cache of past-dated chart answers keyed
    on the URL (so a later test would get an earlier test's answer); cache
    managers that keep their SQLite handle once opened (so
    ``set_tz_cache_location`` alone does not move an opened cache); and a
    counter limiting the ``info`` fallback of the time zone probe to the first
    two failures of the process. All are reset here.
    """
    import yfinance as yf
    from yfinance import base, cache, data

    data.YfData.cache_get.cache_clear()
    data.SingletonMeta._instances.pop(data.YfData, None)
    base._tz_info_fetch_ctr = 0
    for manager in (cache._TzDBManager, cache._CookieDBManager, cache._ISINDBManager):
        manager.close_db()
        manager._db = None
    cache._TzCacheManager._tz_cache = None
    cache._CookieCacheManager._Cookie_cache = None
    cache._ISINCacheManager._isin_cache = None
    if cache_dir is not None:
        # set_tz_cache_location moves the time zone, cookie and ISIN caches;
        # yfinance creates the folder when it first writes.
        yf.set_tz_cache_location(str(cache_dir))


@dataclass
class YahooReplay:
    """What :func:`replay_yahoo` yields."""

    server: YahooReplayServer
    cache_dir: Path

    def session(self, **kwargs: Any) -> ReplaySession:
        """A new :class:`ReplaySession` bound to :attr:`server`."""
        return ReplaySession(self.server, **kwargs)


@contextmanager
def isolated_yfinance(cache_dir: str | Path) -> Iterator[Path]:
    """Run the block with yfinance's caches in ``cache_dir`` and fresh process state."""
    from yfinance import cache

    previous = cache._TzDBManager.get_location()
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    reset_yfinance_state(cache_dir)
    try:
        yield cache_dir
    finally:
        reset_yfinance_state(previous)


@contextmanager
def replay_yahoo(
    tmp_path: str | Path,
    recordings: Mapping[str, Recording] | None = None,
    *,
    news: Mapping[str, Recording] | None = None,
    generated: bool = True,
    now: datetime | None = None,
) -> Iterator[YahooReplay]:
    """Start a replay server with isolated yfinance caches under ``tmp_path``.

    ``recordings`` (chart answers) and ``news`` (news answers) default to the
    recordings under ``tests/data/yahoo`` and ``tests/data/yahoo_news``;
    ``generated`` and ``now`` are :class:`YahooReplayServer`'s.
    """
    with (
        isolated_yfinance(Path(tmp_path) / "yfinance-cache") as cache_dir,
        YahooReplayServer(recordings, news=news, generated=generated, now=now) as server,
    ):
        yield YahooReplay(server=server, cache_dir=cache_dir)
