"""A local HTTP server for feed tests and benchmarks, and generated finance-news feeds.

Nothing here reaches the internet: :class:`FeedServer` listens on 127.0.0.1
on a free port and answers the routes a test sets. It records every request
(method, path, headers) so a test can check what the client sent.

Typical use (``tests/`` is on ``sys.path``: pytest puts a rootdir conftest's
folder there, so test modules and benchmarks ``import feed_server``)::

    import feed_server

    @pytest.fixture
    def server():
        with feed_server.serve() as srv:
            yield srv

    def test_poll(server):
        server.add("/rss", feed_bytes, etag='"v1"')
        url = server.url("/rss")
        ...
        assert server.requests_for("/rss")[-1].header("If-None-Match") == '"v1"'

Routes
------
* :meth:`FeedServer.add`: a static body with headers; ``etag`` and
  ``last_modified`` make it answer ``If-None-Match`` / ``If-Modified-Since``
  with 304; ``encoding="gzip"`` or ``"deflate"`` compresses it when the
  request accepts that encoding; any ``status`` (404, 500, 429...).
* :meth:`FeedServer.redirect`: a 301/302/303/307/308 to a location.
* :meth:`FeedServer.hang`: reads the request and never answers (until the
  server closes).
* :meth:`FeedServer.drip`: sends the headers, then a few bytes at a time
  with a pause between them.
* :meth:`FeedServer.stream`: a body generated on the fly from an iterator
  (never held in memory); :meth:`FeedServer.huge` streams an endless-looking
  RSS feed of ``size`` bytes (50 MB by default).
* :meth:`FeedServer.gzip_bomb`: a small gzip body that inflates to ``size``
  bytes (100 MB by default: about 100 kB on the wire, built in about 0.3 s
  and cached), always sent with ``Content-Encoding: gzip``.

An unknown path answers 404. Routes match the path without its query string.

Generated feeds
---------------
:func:`generated_items` and :func:`generated_feed` build a deterministic RSS
2.0 feed of ``n`` finance-news items for a ``seed``: real company names and
tickers, earnings/guidance/deal/regulatory stories, CDATA summaries with HTML,
``guid isPermaLink="false"``, RFC 822 ``pubDate`` with a zone, ``dc:creator``.
About 10 % of the items are near-duplicates of an earlier story (reworded
title and summary, same facts) and about 5 % exact duplicates (the same title
and summary under a new GUID and link, as syndicated copies appear); each
item says which earlier GUID it copies, for dedup benchmarks.
"""

from __future__ import annotations

import gzip
import logging
import random
import socket
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

log = logging.getLogger(__name__)

RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
HANG_LIMIT = 60.0  #: seconds a hanging or dripping handler waits at most before giving up


@dataclass(frozen=True)
class ReceivedRequest:
    """A request the server received (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Route:
    """What the server answers on one path (build these with the :class:`FeedServer` methods)."""

    kind: str  #: "static", "redirect", "hang", "drip" or "stream"
    status: int = 200
    body: bytes = b""
    content_type: str | None = RSS_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    encoding: str | None = None  #: "gzip"/"deflate": compress when accepted; "gzip!": body is gzip already
    location: str | None = None
    interval: float = 0.0
    step: int = 1
    chunks: Callable[[], Iterable[bytes]] | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, owner: FeedServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:  # noqa: ARG002
        log.debug("feed server: connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes; no chunking needed

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        log.debug("feed server: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        owner = self.server.owner
        owner._record(ReceivedRequest("GET", self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = owner._route(self.path)
        try:
            if route is None:
                self._send(404, b"not found\n", "text/plain")
            elif route.kind == "static":
                self._static(route)
            elif route.kind == "redirect":
                self.send_response(route.status)
                self.send_header("Location", route.location or "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif route.kind == "hang":
                owner._stopping.wait(HANG_LIMIT)
            elif route.kind == "drip":
                self._drip(route)
            elif route.kind == "stream":
                self._stream(route)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            log.debug("feed server: client left %s early", self.path)

    def _send(self, status: int, body: bytes, content_type: str | None, extra: Iterable[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _static(self, route: Route) -> None:
        validators = [("ETag", route.etag)] if route.etag else []
        if route.last_modified:
            validators.append(("Last-Modified", route.last_modified))
        if route.status == 200 and _not_modified(route, self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")):
            self.send_response(304)
            for name, value in validators:
                self.send_header(name, value)
            self.end_headers()
            return
        body, extra = route.body, list(route.headers) + validators
        accepted = (self.headers.get("Accept-Encoding") or "").lower()
        if route.encoding == "gzip!":
            extra.append(("Content-Encoding", "gzip"))
        elif route.encoding in ("gzip", "deflate") and route.encoding in accepted:
            body = gzip.compress(body) if route.encoding == "gzip" else zlib.compress(body)
            extra.append(("Content-Encoding", route.encoding))
        self._send(route.status, body, route.content_type, extra)

    def _drip(self, route: Route) -> None:
        self.send_response(route.status)
        if route.content_type:
            self.send_header("Content-Type", route.content_type)
        self.end_headers()
        self.wfile.flush()
        stopping = self.server.owner._stopping
        for start in range(0, len(route.body), route.step):
            self.wfile.write(route.body[start : start + route.step])
            self.wfile.flush()
            if stopping.wait(route.interval):
                return

    def _stream(self, route: Route) -> None:
        self.send_response(route.status)
        if route.content_type:
            self.send_header("Content-Type", route.content_type)
        for name, value in route.headers:
            self.send_header(name, value)
        self.end_headers()
        assert route.chunks is not None
        stopping = self.server.owner._stopping
        for chunk in route.chunks():
            if stopping.is_set():
                return
            self.wfile.write(chunk)


def _not_modified(route: Route, if_none_match: str | None, if_modified_since: str | None) -> bool:
    if if_none_match is not None:  # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)
        if route.etag is None:
            return False
        tags = [t.strip() for t in if_none_match.split(",")]
        weak = route.etag.removeprefix("W/")
        return "*" in tags or any(t.removeprefix("W/") == weak for t in tags)
    if if_modified_since and route.last_modified:
        try:
            return parsedate_to_datetime(route.last_modified) <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
    return False


class FeedServer:
    """A threaded HTTP server on 127.0.0.1 with routes set by the test.

    Use :func:`serve` (a context manager) or call :meth:`close` yourself.
    """

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(self)
        self.host, self.port = self._httpd.server_address[:2]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    # -- addresses and records ---------------------------------------------------------

    def url(self, path: str = "/", host: str | None = None) -> str:
        """The URL of ``path``; ``host`` replaces 127.0.0.1 (e.g. ``localhost``) with the same port."""
        return f"http://{host or self.host}:{self.port}{path}"

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, path: str) -> list[ReceivedRequest]:
        """The requests whose path (without query) is ``path``."""
        return [r for r in self.requests if urlsplit(r.path).path == path]

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _route(self, raw_path: str) -> Route | None:
        with self._lock:
            return self._routes.get(raw_path) or self._routes.get(urlsplit(raw_path).path)

    def set_route(self, path: str, route: Route) -> None:
        with self._lock:
            self._routes[path] = route

    # -- routes ------------------------------------------------------------------------

    def add(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        content_type: str | None = RSS_TYPE,
        headers: dict[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        encoding: str | None = None,
    ) -> str:
        """Serve a static body on ``path``; returns its URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.set_route(
            path,
            Route("static", status, data, content_type, tuple((headers or {}).items()), etag, last_modified, encoding),
        )
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        """Answer ``path`` with a redirect to ``location``; returns the URL of ``path``."""
        self.set_route(path, Route("redirect", status, location=location))
        return self.url(path)

    def hang(self, path: str) -> str:
        """Accept requests on ``path`` and never answer them."""
        self.set_route(path, Route("hang"))
        return self.url(path)

    def drip(self, path: str, body: bytes | None = None, *, interval: float = 0.1, step: int = 1) -> str:
        """Send ``body`` (default: a generated feed) ``step`` bytes every ``interval`` seconds."""
        self.set_route(path, Route("drip", body=body if body is not None else generated_feed(20), interval=interval, step=step))
        return self.url(path)

    def stream(
        self,
        path: str,
        chunks: Callable[[], Iterable[bytes]],
        *,
        content_type: str | None = RSS_TYPE,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Send the chunks a fresh ``chunks()`` iterable yields, without Content-Length."""
        self.set_route(path, Route("stream", content_type=content_type, headers=tuple((headers or {}).items()), chunks=chunks))
        return self.url(path)

    def huge(self, path: str, size: int = 50_000_000, seed: int = 0) -> str:
        """Stream a generated RSS feed of about ``size`` bytes (made on the fly, never stored)."""
        return self.stream(path, lambda: generated_stream(size, seed))

    def gzip_bomb(self, path: str, size: int = 100_000_000) -> str:
        """Serve a gzip body that inflates to ``size`` bytes (an RSS head, then spaces)."""
        self.set_route(path, Route("static", body=gzip_bomb_bytes(size), encoding="gzip!"))
        return self.url(path)

    # -- life cycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Release hanging handlers and stop the server."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def serve() -> Iterator[FeedServer]:
    """A running :class:`FeedServer`, closed on exit."""
    server = FeedServer()
    try:
        yield server
    finally:
        server.close()


@lru_cache(maxsize=4)
def gzip_bomb_bytes(size: int) -> bytes:
    """A gzip stream of ``size`` bytes: an RSS start tag, then spaces (compresses about 1000:1)."""
    head = b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>bomb</title>'
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(head)]
    block = b" " * (1 << 20)
    remaining = size - len(head)
    while remaining > 0:
        piece = block if remaining >= len(block) else block[:remaining]
        parts.append(compressor.compress(piece))
        remaining -= len(piece)
    parts.append(compressor.flush())
    return b"".join(parts)


# -- generated finance news ---------------------------------------------------------------

COMPANIES: tuple[tuple[str, str, str], ...] = (
    ("Apple Inc.", "AAPL", "NASDAQ"),
    ("Microsoft Corp.", "MSFT", "NASDAQ"),
    ("NVIDIA Corp.", "NVDA", "NASDAQ"),
    ("Amazon.com Inc.", "AMZN", "NASDAQ"),
    ("Alphabet Inc.", "GOOGL", "NASDAQ"),
    ("Meta Platforms Inc.", "META", "NASDAQ"),
    ("Tesla Inc.", "TSLA", "NASDAQ"),
    ("Netflix Inc.", "NFLX", "NASDAQ"),
    ("Intel Corp.", "INTC", "NASDAQ"),
    ("Advanced Micro Devices Inc.", "AMD", "NASDAQ"),
    ("Starbucks Corp.", "SBUX", "NASDAQ"),
    ("JPMorgan Chase & Co.", "JPM", "NYSE"),
    ("Goldman Sachs Group Inc.", "GS", "NYSE"),
    ("Bank of America Corp.", "BAC", "NYSE"),
    ("Exxon Mobil Corp.", "XOM", "NYSE"),
    ("Chevron Corp.", "CVX", "NYSE"),
    ("Pfizer Inc.", "PFE", "NYSE"),
    ("Johnson & Johnson", "JNJ", "NYSE"),
    ("Walmart Inc.", "WMT", "NYSE"),
    ("Boeing Co.", "BA", "NYSE"),
    ("Coca-Cola Co.", "KO", "NYSE"),
    ("Walt Disney Co.", "DIS", "NYSE"),
    ("Nike Inc.", "NKE", "NYSE"),
    ("Caterpillar Inc.", "CAT", "NYSE"),
    ("Oracle Corp.", "ORCL", "NYSE"),
    ("Salesforce Inc.", "CRM", "NYSE"),
    ("Ford Motor Co.", "F", "NYSE"),
    ("General Motors Co.", "GM", "NYSE"),
    ("CoreCivic Inc.", "CXW", "NYSE"),
    ("GEO Group Inc.", "GEO", "NYSE"),
    ("Palantir Technologies Inc.", "PLTR", "NASDAQ"),
)
AUTHORS = ("Staff Reporter", "Markets Desk", "Jane Whitfield", "Rahul Mehta", "Ana Lopes", "Tom Becker")
BANKS = ("Morgan Stanley", "Goldman Sachs", "Barclays", "UBS", "Jefferies", "Bernstein")

# Each story: (title variants, summary variants); near-duplicates use another variant.
STORIES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("{name} beats quarterly profit estimates as revenue rises {pct}%",
         "{short} tops earnings forecasts, revenue up {pct}%",
         "{short} quarterly earnings beat Wall Street expectations; sales climb {pct}%"),
        ("{name} ({exchange}: {ticker}) reported fourth-quarter earnings of ${eps} a share, above analysts' "
         "average estimate, as revenue grew {pct}% to ${rev} billion.",
         "Fourth-quarter profit at {name} ({exchange}: {ticker}) came in at ${eps} per share, ahead of "
         "consensus; revenue rose {pct}% to ${rev} billion."),
    ),
    (
        ("{name} cuts full-year outlook, shares fall {move}% after hours",
         "{short} lowers annual guidance; stock drops {move}% in extended trading"),
        ("{name} ({exchange}: {ticker}) now expects full-year revenue of ${rev} billion, below its earlier "
         "forecast, citing weaker demand. The stock fell {move}% after the bell.",
         "Citing softer demand, {name} ({exchange}: {ticker}) lowered its full-year revenue forecast to "
         "${rev} billion; shares slid {move}% after hours."),
    ),
    (
        ("{name} announces ${buyback} billion share buyback",
         "{short} unveils ${buyback} billion stock repurchase program"),
        ("The board of {name} ({exchange}: {ticker}) authorized the repurchase of up to ${buyback} billion "
         "of common stock and raised the quarterly dividend by {pct}%.",
         "{name} ({exchange}: {ticker}) said its board approved buying back as much as ${buyback} billion in "
         "shares, alongside a {pct}% dividend increase."),
    ),
    (
        ("{name} to acquire {target} in ${deal} billion deal",
         "{short} agrees to buy {target} for ${deal} billion"),
        ("{name} ({exchange}: {ticker}) agreed to acquire {target} for about ${deal} billion in cash and "
         "stock, the companies said on {day}.",
         "In a cash-and-stock transaction valued near ${deal} billion, {name} ({exchange}: {ticker}) will "
         "buy {target}, the companies announced {day}."),
    ),
    (
        ("SEC opens probe into {name} accounting practices",
         "{short} faces SEC investigation over accounting"),
        ("{name} ({exchange}: {ticker}) disclosed in a filing that the Securities and Exchange Commission "
         "has opened an investigation into its revenue recognition. Shares fell {move}%.",
         "Shares of {name} ({exchange}: {ticker}) dropped {move}% after the company said the SEC is "
         "investigating how it recognizes revenue."),
    ),
    (
        ("{name} downgraded to Sell at {bank}", "{bank} cuts {short} to Sell, sees {move}% downside"),
        ("{bank} downgraded {name} ({exchange}: {ticker}) to Sell from Neutral, citing stretched valuation "
         "and slowing growth, and set a price target implying {move}% downside.",
         "Analysts at {bank} moved {name} ({exchange}: {ticker}) to Sell, saying growth is slowing and the "
         "valuation leaves {move}% downside."),
    ),
    (
        ("{name} CEO to step down after {years} years", "{short} chief executive to retire after {years}-year tenure"),
        ("{name} ({exchange}: {ticker}) said its chief executive will step down after {years} years at the "
         "helm; the board has begun a search for a successor.",
         "After {years} years leading {name} ({exchange}: {ticker}), the chief executive will retire, the "
         "company said, and the board is searching for a replacement."),
    ),
    (
        ("{name} wins ${deal} billion government contract", "{short} awarded ${deal} billion federal contract"),
        ("{name} ({exchange}: {ticker}) won a ${deal} billion multi-year contract from the U.S. government, "
         "sending its shares up {move}% in morning trading.",
         "Shares of {name} ({exchange}: {ticker}) rose {move}% after it was awarded a federal contract worth "
         "${deal} billion over several years."),
    ),
)


@dataclass(frozen=True)
class GeneratedItem:
    """One generated story; ``duplicate_of``/``near_duplicate_of`` name the GUID it copies."""

    guid: str
    link: str
    title: str
    summary_html: str
    published: datetime
    creator: str
    duplicate_of: str | None = None
    near_duplicate_of: str | None = None
    facts: dict[str, str] = field(default_factory=dict, compare=False, repr=False)


def _facts(rng: random.Random) -> dict[str, str]:
    name, ticker, exchange = rng.choice(COMPANIES)
    target = rng.choice([c for c in COMPANIES if c[1] != ticker])[0]
    short = name.split(" Inc.")[0].split(" Corp.")[0].split(" Co.")[0].split(" Group")[0].rstrip(" ,&")
    return {
        "name": name, "short": short, "ticker": ticker, "exchange": exchange, "target": target,
        "pct": f"{rng.uniform(1, 35):.1f}", "move": f"{rng.uniform(1, 15):.1f}", "eps": f"{rng.uniform(0.2, 9):.2f}",
        "rev": f"{rng.uniform(1, 150):.1f}", "buyback": str(rng.randint(1, 90)), "deal": f"{rng.uniform(0.5, 70):.1f}",
        "bank": rng.choice(BANKS), "years": str(rng.randint(3, 25)),
        "day": rng.choice(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")),
        "story": str(rng.randrange(len(STORIES))),
    }


def _render(facts: dict[str, str], rng: random.Random, variant: int | None = None) -> tuple[str, str]:
    titles, summaries = STORIES[int(facts["story"])]
    t = variant if variant is not None else 0
    title = titles[t % len(titles)].format(**facts)
    summary = summaries[t % len(summaries)].format(**facts)
    extra = rng.choice((
        "The stock has {sign}{ytd}% so far this year.",
        "Trading volume was about {vol} times the 30-day average.",
        "The company will hold a conference call with analysts at 5 p.m. ET.",
    )).format(sign=rng.choice(("gained ", "lost ")), ytd=f"{rng.uniform(1, 60):.0f}", vol=rng.randint(2, 6))
    html = f"<p>{escape(summary)}</p><p><em>{escape(extra)}</em></p>"
    return title, html


def generated_items(n: int, seed: int = 0, *, start: datetime | None = None) -> list[GeneratedItem]:
    """``n`` deterministic finance-news items, newest first (see the module documentation)."""
    rng = random.Random(seed)
    when = start or datetime(2025, 2, 4, 21, 30, tzinfo=timezone.utc)
    items: list[GeneratedItem] = []
    for i in range(n):
        guid = f"mim-{seed}-{i:07d}"
        link = f"https://news.example.com/markets/{seed}/{i:07d}"
        when -= timedelta(seconds=rng.randint(30, 1800))
        roll = rng.random()
        if items and roll < 0.05:
            original = rng.choice(items[-50:])
            source = original.duplicate_of or original.guid
            items.append(GeneratedItem(guid, link, original.title, original.summary_html, when, rng.choice(AUTHORS),
                                       duplicate_of=source, facts=original.facts))
            continue
        if items and roll < 0.15:
            original = rng.choice(items[-50:])
            title, html = _render(original.facts, rng, variant=rng.randint(1, 3))
            if title == original.title:
                title += " - update"
            source = original.near_duplicate_of or original.duplicate_of or original.guid
            items.append(GeneratedItem(guid, link, title, html, when, rng.choice(AUTHORS),
                                       near_duplicate_of=source, facts=original.facts))
            continue
        facts = _facts(rng)
        title, html = _render(facts, rng)
        items.append(GeneratedItem(guid, link, title, html, when, rng.choice(AUTHORS), facts=facts))
    return items


_EST = timezone(timedelta(hours=-5))
_RSS_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n'
    "<title>{title}</title>\n<link>https://news.example.com/markets</link>\n"
    "<description>Generated market news for tests and benchmarks</description>\n<language>en-us</language>\n"
)
_RSS_TAIL = "</channel>\n</rss>\n"


def render_item(item: GeneratedItem) -> str:
    """One ``<item>`` element of the generated feed."""
    stamp = format_datetime(item.published.astimezone(_EST))  # "Tue, 04 Feb 2025 16:05:00 -0500"
    return (
        f"<item>\n  <title>{escape(item.title)}</title>\n  <link>{escape(item.link)}</link>\n"
        f"  <description><![CDATA[{item.summary_html}]]></description>\n"
        f"  <pubDate>{stamp}</pubDate>\n  <dc:creator>{escape(item.creator)}</dc:creator>\n"
        f"  <guid isPermaLink={quoteattr('false')}>{escape(item.guid)}</guid>\n</item>\n"
    )


def generated_feed(n: int, seed: int = 0, *, title: str = "Market News") -> bytes:
    """An RSS 2.0 document of ``n`` generated items (UTF-8 bytes)."""
    parts = [_RSS_HEAD.format(title=escape(title))]
    parts.extend(render_item(item) for item in generated_items(n, seed))
    parts.append(_RSS_TAIL)
    return "".join(parts).encode("utf-8")


def generated_stream(size: int, seed: int = 0) -> Iterator[bytes]:
    """About ``size`` bytes of one RSS document, made item by item (for the huge route)."""
    head = _RSS_HEAD.format(title="Endless Market News").encode("utf-8")
    yield head
    sent, batch = len(head), 0
    while sent < size:
        # a seed per block keeps the GUIDs unique across blocks
        block = "".join(render_item(item) for item in generated_items(200, seed=seed * 100_000 + batch)).encode("utf-8")
        yield block
        sent += len(block)
        batch += 1
    yield _RSS_TAIL.encode("utf-8")
