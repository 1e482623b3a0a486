"""A careful HTTP GET for feeds: the only module of the monitor that fetches URLs.

:func:`fetch` asks one URL and returns the body with the validators for the
next conditional request. It uses the standard library only and guards
against what an untrusted feed address or server can do:

* **Schemes.** Only ``http`` and ``https``; ``file:``, ``ftp:``, ``data:``,
  ``gopher:`` and the rest are refused, as are URLs with credentials,
  white space or control characters.
* **Addresses (SSRF).** The host is resolved here with
  :func:`socket.getaddrinfo` and every address it resolves to is checked with
  :func:`forbidden_reason`: loopback, private, link-local, multicast,
  reserved, unspecified, shared (100.64/10), documentation and other not
  globally routable addresses and the cloud metadata addresses
  (169.254.169.254, fd00:ec2::254) are refused, also when written in an
  IPv4-mapped, 6to4 or NAT64 IPv6 form. A host with one forbidden address
  among several is refused. The connection is then made to the checked
  address itself (the Host header and TLS SNI carry the original name), so a
  DNS answer that changes between check and connect (DNS rebinding) cannot
  swap it.
* **Redirects** (301, 302, 303, 307, 308) are followed by hand, at most
  ``max_redirects``, and every hop goes through the same scheme and address
  checks.
* **Time.** ``connect_timeout`` bounds each TCP connect, ``read_timeout``
  each wait for data, and a watchdog closes the socket when the whole fetch
  (redirects included) has taken ``4 * read_timeout``, so a server that
  drips one byte at a time cannot hold a poll for ever.
* **Size.** At most ``max_bytes`` of body are kept, counted after
  decompression (``gzip``/``deflate``, decompressed in bounded steps, so a
  gzip bomb stops at the cap). A body cut at the cap comes back with
  ``truncated=True``: the caller decides what a partial document is worth.

Private addresses: ``allow_private`` and ``allow_private_hosts``
----------------------------------------------------------------
``allow_private=True`` turns the address check off for every hop (a feed on
your own network). ``allow_private_hosts`` is narrower: the host names
listed there (compared case-insensitively with the URL's host, e.g.
``{"feeds.intranet"}`` or ``{"localhost"}``) skip the address check, and
any other host, including the target of a redirect from an allowed one, is
checked as usual. This is also how the tests exercise the redirect check
against a server on 127.0.0.1: the start URL names ``localhost`` (allowed),
the redirect points at ``127.0.0.1`` (not listed), and the hop is refused.

Errors
------
Every failure raises :class:`~monitor.errors.SourceError` with a one-line
message saying what happened and what to do: a refused URL or address, DNS
failure, refused connection, TLS failure, timeouts, too many redirects, an
HTTP error status (404/410 "check the address", 429 "rate limited", 5xx
"try again later") or a broken compressed body.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from monitor.errors import SourceError

log = logging.getLogger(__name__)

__all__ = ["FetchResult", "fetch", "forbidden_reason", "resolve"]

DEFAULT_USER_AGENT = "market-impact-monitor/0.1"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: How long the whole fetch may take, in multiples of ``read_timeout``.
DEADLINE_FACTOR = 4
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"

_CHUNK = 64 * 1024
_METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
_NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class FetchResult:
    """The answer to one :func:`fetch`.

    ``url`` is the final URL after redirects; ``status`` is 200 or 304 (a
    conditional GET whose resource did not change; ``body`` is then ``b""``).
    ``body`` is decoded from gzip/deflate. ``etag`` and ``last_modified`` are
    the validators to send next time (on 304 the ones the server repeated,
    else the ones that were sent). ``truncated`` is true when the body hit
    ``max_bytes`` and the rest was not read.
    """

    url: str
    status: int
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None
    truncated: bool


@dataclass(frozen=True)
class _Target:
    """A checked URL, ready to connect to."""

    url: str
    scheme: str
    host: str  #: ASCII (IDNA) host name or IP literal, lower case, no brackets
    port: int
    request_path: str  #: path and query, as sent in the request line


# -- address checks --------------------------------------------------------------------


def forbidden_reason(address: Address | str) -> str | None:
    """Why the monitor must not connect to ``address``, or None when it may.

    Parameters
    ----------
    address
        An IPv4 or IPv6 address (object or text; an IPv6 zone ``%eth0`` is ignored).

    Returns
    -------
    str or None
        ``"loopback"``, ``"private"``, ``"link-local"``, ``"multicast"``,
        ``"reserved"``, ``"unspecified"``, ``"cloud metadata"``,
        ``"shared (carrier-grade NAT)"`` or ``"not globally routable"``; for
        an IPv6 form that embeds an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``,
        6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``) the reason of the embedded
        address, e.g. ``"loopback (IPv4-mapped)"``. None for a public address.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # the same host as the IPv4 address: judged as that
            inner = forbidden_reason(ip.ipv4_mapped)
            return None if inner is None else f"{inner} (IPv4-mapped)"
        for embedded, form in _embedded_ipv4(ip):
            inner = forbidden_reason(embedded)
            if inner is not None:
                return f"{inner} ({form})"
    if ip in _METADATA_ADDRESSES:
        return "cloud metadata"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED_ADDRESS_SPACE:
        return "shared (carrier-grade NAT)"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> Iterator[tuple[ipaddress.IPv4Address, str]]:
    if ip.sixtofour is not None:
        yield ip.sixtofour, "6to4"
    if ip in _NAT64_PREFIX:
        yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"


def resolve(host: str, port: int, *, allow_private: bool = False) -> list[tuple[int, tuple[Any, ...]]]:
    """Resolve ``host`` and check every address it resolves to.

    Parameters
    ----------
    host
        Host name or IP literal (ASCII, without brackets).
    port
        TCP port.
    allow_private
        Skip the address check (a feed on a trusted network).

    Returns
    -------
    list of (family, sockaddr)
        The addresses to try, in the resolver's order, duplicates removed.

    Raises
    ------
    SourceError
        The name does not resolve, or one of its addresses is forbidden
        (see :func:`forbidden_reason`).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
        raise SourceError(f"cannot resolve host {host!r}: {_one_line(detail)}; check the feed address and the DNS") from None
    addresses: list[tuple[int, tuple[Any, ...]]] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6) or (family, sockaddr) in addresses:
            continue
        if not allow_private:
            reason = forbidden_reason(str(sockaddr[0]))
            if reason is not None:
                raise SourceError(
                    f"refused host {host!r}: it resolves to {sockaddr[0]}, a {reason} address; "
                    "only feeds on public addresses are fetched (allow private addresses only for a trusted network)"
                )
        addresses.append((family, sockaddr))
    if not addresses:
        raise SourceError(f"cannot resolve host {host!r}: no IPv4 or IPv6 address; check the feed address")
    return addresses


def _check_url(url: str) -> _Target:
    """Parse ``url`` and refuse anything but a plain http(s) URL."""
    if not isinstance(url, str) or not url.strip():
        raise SourceError(f"refused URL {url!r}: empty; give the feed's http or https address")
    url = url.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise SourceError(f"refused URL {url!r}: it contains white space or control characters; check the address")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SourceError(f"refused URL {url!r}: {_one_line(str(exc))}; check the address") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise SourceError(f"refused URL {url!r}: only http and https feeds are fetched")
    if parts.username is not None or parts.password is not None:
        raise SourceError(f"refused URL {_redact(url)!r}: credentials in feed URLs are not supported")
    host = parts.hostname
    if not host:
        raise SourceError(f"refused URL {url!r}: no host name; check the address")
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise SourceError(f"refused URL {url!r}: the host name {host!r} is not a valid domain name") from None
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_PATH_SAFE + "?")
    return _Target(url, scheme, ascii_host, port or (443 if scheme == "https" else 80), path)


def _ascii_host(host: str) -> str:
    """A host name as :func:`_check_url` spells it: IDNA-encoded, lower case, no brackets."""
    host = host.strip().strip("[]")
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host.lower()


def _redact(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc="***@" + netloc).geturl()


# -- connections pinned to the checked address --------------------------------------------


def _open_socket(family: int, sockaddr: tuple[Any, ...], connect_timeout: float, read_timeout: float) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(connect_timeout)
        sock.connect(sockaddr)
        sock.settimeout(read_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP connection to a fixed address; Host header from the URL's host."""

    def __init__(
        self, target: _Target, family: int, sockaddr: tuple[Any, ...], connect_timeout: float, read_timeout: float
    ) -> None:
        super().__init__(target.host, target.port, timeout=read_timeout)
        self._pin = (family, sockaddr, connect_timeout, read_timeout)

    def connect(self) -> None:
        self.sock = _open_socket(*self._pin)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS connection to a fixed address; SNI, certificate check and Host header use the URL's host."""

    def __init__(
        self, target: _Target, family: int, sockaddr: tuple[Any, ...], connect_timeout: float, read_timeout: float
    ) -> None:
        super().__init__(target.host, target.port, timeout=read_timeout, context=ssl.create_default_context())
        self._pin = (family, sockaddr, connect_timeout, read_timeout)

    def connect(self) -> None:
        sock = _open_socket(*self._pin)
        try:
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


class _Deadline:
    """The overall time limit of one fetch; a watchdog closes the live socket when it passes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False

    def remaining(self) -> float:
        return self.end - time.monotonic()

    @contextmanager
    def watch(self, sock: socket.socket | None) -> Iterator[None]:
        """Shut ``sock`` down (waking any blocked read) if the deadline passes inside the block."""

        def expire() -> None:
            self.expired = True
            if sock is not None:
                try:
                    # the base method: on an SSLSocket it shuts the descriptor down without
                    # tearing down the TLS object under a reader in another thread
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(max(self.remaining(), 0.0), expire)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()


# -- bounded decoding ------------------------------------------------------------------


class _BoundedDecoder:
    """Collects a body, decoding gzip/deflate, and stops at ``limit`` decoded bytes."""

    def __init__(self, encoding: str | None, limit: int, url: str) -> None:
        self.limit = limit
        self.url = url
        self.out = bytearray()
        self.truncated = False
        self.encoding = (encoding or "identity").strip().lower()
        self._zlib: Any = None
        self._pending = b""  # deflate: the first bytes, until the stream's kind can be told
        self._fed = False
        if self.encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.encoding not in ("identity", "deflate", ""):
            raise SourceError(
                f"feed URL answered with Content-Encoding {self.encoding!r}, which was not asked for: {url}; "
                "the server is misconfigured"
            )

    @property
    def compressed(self) -> bool:
        return self.encoding not in ("identity", "")

    def feed(self, data: bytes) -> bool:
        """Add raw body bytes; True once the cap is reached (stop reading)."""
        if not self.compressed:
            room = self.limit - len(self.out)
            self.out += data[:room]
            if len(data) > room:
                self.truncated = True
            return self.truncated
        self._fed = self._fed or bool(data)
        if self._zlib is None:  # deflate: zlib-wrapped (RFC 1950) as specified, or raw as some servers send it
            data, self._pending = self._pending + data, b""
            if len(data) < 2:
                self._pending = data
                return False
            zlib_header = data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        try:
            while data:
                room = self.limit - len(self.out)
                # max_length bounds the output of each step (0 would mean "unbounded")
                self.out += self._zlib.decompress(data, room + 1)
                if len(self.out) > self.limit:
                    del self.out[self.limit :]
                    self.truncated = True
                    return True
                if self._zlib.eof:
                    data = self._zlib.unused_data
                    if not data or self.encoding not in ("gzip", "x-gzip"):
                        return False
                    self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)  # the next gzip member
                else:
                    data = self._zlib.unconsumed_tail
        except zlib.error as exc:
            raise SourceError(f"feed URL sent a corrupt {self.encoding} body ({exc}): {self.url}; try again later") from None
        return False

    def finish(self) -> bytes:
        """The body; raises when a compressed stream stopped in the middle (an empty body is empty)."""
        if self.compressed and self._fed and not self.truncated:
            if self._zlib is None or not self._zlib.eof:
                raise SourceError(
                    f"feed URL's {self.encoding} body ended before the compressed stream did: {self.url}; try again later"
                )
        return bytes(self.out)


# -- the fetch -------------------------------------------------------------------------


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 15.0,
    max_bytes: int = 10_000_000,
    max_redirects: int = 5,
    allow_private: bool = False,
    allow_private_hosts: Collection[str] = (),
    user_agent: str = DEFAULT_USER_AGENT,
) -> FetchResult:
    """GET ``url`` safely (see the module documentation for every guard).

    Parameters
    ----------
    url
        An http or https URL.
    etag, last_modified
        Validators from the previous answer, sent as ``If-None-Match`` and
        ``If-Modified-Since`` (also to redirect targets).
    connect_timeout
        Seconds for each TCP connect (each address of the host is tried in turn).
    read_timeout
        Seconds to wait for any data; the whole fetch, redirects included,
        is cut after ``4 * read_timeout``.
    max_bytes
        Most body bytes kept, counted after decompression; the compressed
        bytes read are capped at the same number.
    max_redirects
        Most redirects followed.
    allow_private
        Do not check addresses at all (trusted network).
    allow_private_hosts
        Host names (case-insensitive) that may resolve to private addresses;
        any other host, redirect targets included, is checked.
    user_agent
        The ``User-Agent`` header.

    Returns
    -------
    FetchResult
        Status 200 with the body, or 304 with an empty body.

    Raises
    ------
    SourceError
        With a one-line message for every failure (refused URL or address,
        network, TLS, timeout, HTTP error status, too many redirects,
        broken compression).
    """
    allowed_hosts = {_ascii_host(h) for h in allow_private_hosts}
    deadline = _Deadline(DEADLINE_FACTOR * read_timeout)
    headers = {
        "User-Agent": user_agent,
        "Accept": ACCEPT,
        "Accept-Encoding": "gzip, deflate",
        "Connection": "close",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current, previous = url, None
    for hop in range(max_redirects + 1):
        try:
            target = _check_url(current)
            private_ok = allow_private or target.host in allowed_hosts
            addresses = resolve(target.host, target.port, allow_private=private_ok)
        except SourceError as exc:
            if previous is None:
                raise
            raise SourceError(f"refused redirect from {previous} to {current}: {exc}") from None
        outcome = _exchange(target, addresses, headers, connect_timeout, read_timeout, max_bytes, deadline)
        if isinstance(outcome, FetchResult):
            if outcome.status == 304:
                outcome = FetchResult(
                    outcome.url, 304, b"", outcome.etag or etag, outcome.last_modified or last_modified,
                    outcome.content_type, False,
                )
            log.debug("fetched %s: %s, %d bytes%s", outcome.url, outcome.status, len(outcome.body),
                      " (truncated)" if outcome.truncated else "")
            return outcome
        log.debug("redirect %d from %s to %s", hop + 1, current, outcome)
        previous, current = current, outcome
    raise SourceError(f"feed URL redirected more than {max_redirects} times: {url}; check the address")


def _exchange(
    target: _Target,
    addresses: list[tuple[int, tuple[Any, ...]]],
    headers: dict[str, str],
    connect_timeout: float,
    read_timeout: float,
    max_bytes: int,
    deadline: _Deadline,
) -> FetchResult | str:
    """One request and its answer: a result, or the absolute URL a redirect points to."""
    conn = _connect(target, addresses, connect_timeout, read_timeout, deadline)
    where = target.url
    response: http.client.HTTPResponse | None = None
    try:
        with deadline.watch(conn.sock):
            try:
                conn.request("GET", target.request_path, headers=headers)
                response = conn.getresponse()
                redirect = _check_status(response, target)
                if redirect is not None:
                    return redirect
                if response.status == 304:
                    return _result(target, response, b"", False)
                decoder = _BoundedDecoder(response.getheader("Content-Encoding"), max_bytes, where)
                raw = 0
                while True:
                    chunk = response.read1(_CHUNK)
                    if not chunk:
                        break
                    raw += len(chunk)
                    if decoder.feed(chunk):
                        break
                    if raw > max_bytes:  # compressed input beyond the cap, whatever it decodes to
                        decoder.truncated = True
                        break
                if deadline.expired:  # the watchdog closed the socket: the empty read was not the end
                    raise TimeoutError("overall deadline")
                if not decoder.truncated and response.length:  # read1 does not raise on a short body
                    raise SourceError(
                        f"{target.host}:{target.port} closed the connection before the whole body arrived "
                        f"({raw} bytes read, {response.length} more announced): {where}; try again later"
                    )
                body = decoder.finish()
                return _result(target, response, body, decoder.truncated)
            except SourceError:
                raise
            except Exception as exc:  # noqa: BLE001 - every network failure becomes one SourceError line
                if deadline.expired:
                    raise SourceError(
                        f"fetching {where} took longer than {deadline.seconds:g} s (the overall limit, "
                        f"{DEADLINE_FACTOR} x read timeout); the server is too slow, try again later"
                    ) from None
                raise _network_error(exc, target, read_timeout) from None
    finally:
        if response is not None:  # with "Connection: close" the response owns the socket
            response.close()
        conn.close()


def _connect(
    target: _Target,
    addresses: list[tuple[int, tuple[Any, ...]]],
    connect_timeout: float,
    read_timeout: float,
    deadline: _Deadline,
) -> http.client.HTTPConnection:
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    failure: Exception | None = None
    for family, sockaddr in addresses:
        remaining = deadline.remaining()
        if remaining <= 0:
            break
        conn = kind(target, family, sockaddr, min(connect_timeout, remaining), read_timeout)
        try:
            conn.connect()
            return conn
        except Exception as exc:  # noqa: BLE001 - try the next address, report the last failure
            conn.close()
            failure = exc
            log.debug("connect to %s (%s) failed: %s", target.host, sockaddr[0], exc)
    if failure is None:
        raise SourceError(f"fetching {target.url} ran out of time before connecting; try again later")
    raise _network_error(failure, target, read_timeout, connecting=True, connect_timeout=connect_timeout)


def _check_status(response: http.client.HTTPResponse, target: _Target) -> str | None:
    """Raise for an error status; the redirect target for a redirect; None for 200 and 304."""
    status = response.status
    reason = _one_line(response.reason or http.client.responses.get(status, ""))
    label = f"{status} {reason}".strip()
    url = target.url
    if status in (200, 304):
        return None
    if status in REDIRECT_STATUSES:
        location = response.getheader("Location")
        if not location or not location.strip():
            raise SourceError(f"feed URL answered {label} without a Location header: {url}; the server is misconfigured")
        return urljoin(url, location.strip())
    if status in (404, 410):
        raise SourceError(f"feed URL answered {label}: {url}; check the address")
    if status == 429:
        retry = response.getheader("Retry-After")
        after = f" (Retry-After: {_one_line(retry)})" if retry else ""
        raise SourceError(f"feed URL answered {label}, rate limited{after}: {url}; poll it less often")
    if status >= 500:
        raise SourceError(f"feed URL answered {label}, a server error: {url}; try again later")
    if status in (401, 403, 407):
        raise SourceError(f"feed URL answered {label}: {url}; the feed is not public, check the address")
    raise SourceError(f"feed URL answered {label}, which is not a feed: {url}; check the address")


def _result(target: _Target, response: http.client.HTTPResponse, body: bytes, truncated: bool) -> FetchResult:
    return FetchResult(
        url=target.url,
        status=response.status,
        body=body,
        etag=response.getheader("ETag"),
        last_modified=response.getheader("Last-Modified"),
        content_type=response.getheader("Content-Type"),
        truncated=truncated,
    )


def _network_error(
    exc: BaseException,
    target: _Target,
    read_timeout: float,
    *,
    connecting: bool = False,
    connect_timeout: float | None = None,
) -> SourceError:
    """One line saying what went wrong on the wire and what to do."""
    where = f"{target.host}:{target.port}"
    detail = _one_line(str(exc) or exc.__class__.__name__)
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
        return SourceError(f"TLS error with {where} ({detail}): {target.url}; check the address and the server's certificate")
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        if connecting:
            return SourceError(
                f"connecting to {where} timed out after {connect_timeout:g} s: {target.url}; "
                "the host is down or unreachable, try again later"
            )
        return SourceError(
            f"no answer from {where} within {read_timeout:g} s (read timeout): {target.url}; the server is stuck, try again later"
        )
    if isinstance(exc, ConnectionRefusedError):
        return SourceError(f"connection refused by {where}: {target.url}; check the address and port, or try again later")
    if isinstance(exc, http.client.IncompleteRead):
        return SourceError(
            f"{where} closed the connection before the whole body arrived ({len(exc.partial)} bytes of a chunk read): "
            f"{target.url}; try again later"
        )
    if isinstance(exc, http.client.HTTPException):
        return SourceError(
            f"malformed HTTP answer from {where} ({exc.__class__.__name__}: {detail}): {target.url}; try again later"
        )
    return SourceError(f"network error with {where} ({exc.__class__.__name__}: {detail}): {target.url}; try again later")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
