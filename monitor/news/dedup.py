"""Duplicate news: exact copies, and near copies grouped into stories.

Traders get the same story five times: the wire, the portal that republishes
it with a new headline word, the aggregator that appends "Read more:" links.
This module tells them apart in two levels. It is pure code: no store, no
network, no clock.

Exact duplicates
----------------
An article is an exact duplicate of an earlier one when they share one of
their :func:`identities`: the content hash :attr:`~monitor.models.Article.key`
(identical normalised title and body), the :func:`canonical_url`, or the
publisher's GUID. :class:`ExactIndex` keeps the first and names it for the
others.

Near duplicates and stories
---------------------------
Every text gets a 64-bit SimHash (:func:`simhash`, :func:`simhashes`):

1. *Cleaning*: URLs are removed, and lines that are republishing boilerplate
   are dropped: "Read more:", "Related:", "See also:", "Share this article",
   lines made only of share-button words (share, Facebook, X, LinkedIn,
   email...), "Reporting by ... Editing by ..." credits, copyright lines and
   bylines ("By Jane Doe and John Roe", capitalised names only).
2. *Tokens*: NFKC-normalised, case-folded text (as
   :func:`~monitor.models.normalise_text`) split at white space, each word
   stripped of the punctuation at its ends (``1,234.5``, ``u.s`` and
   ``tennessee-based`` stay one token); see :func:`tokens`.
3. *Features*: 3-token shingles. Each distinct token is hashed once with
   BLAKE2b (8 bytes); a shingle's hash is the MurmurHash3 64-bit finaliser of
   an order-sensitive odd-multiplier combination of its three token hashes,
   computed with wrapping ``uint64`` arithmetic in numpy. Nothing depends on
   Python's salted :func:`hash`, the platform's byte order or the process, so
   fingerprints can be stored and compared across runs and machines.
4. *SimHash*: bit *i* of the fingerprint is set when more than half of the
   text's shingles (counted with repetition) have bit *i* set. The unsigned
   value is returned as a signed 64-bit integer, so it fits a SQL ``BIGINT``.

Texts of fewer than :data:`MIN_SIMHASH_TOKENS` (8) tokens are too short for a
SimHash to mean anything: a one-word change moves most of their shingles. They
get an *exact* fingerprint instead, the BLAKE2b hash of their token sequence,
so they only group with a text that has the same tokens (distance 0); against
anything else their distance is that of two random 64-bit values (32 on
average; within :data:`DEFAULT_MAX_DISTANCE` bits with probability 1e-8).
This covers texts too short for a single shingle as well.

Threshold
---------
SimHash estimates the angle between two texts' shingle-count vectors: each
bit differs with probability theta / pi, so the expected Hamming distance is
``64 * theta / pi``. The classic threshold of 3 bits (Manku et al., 2007,
for web pages thousands of words long) corresponds to a cosine similarity
of about 0.99. News items are short: a 100-word wire story with one headline
word changed shares 97 % of its shingles (cosine 0.97, 5.6 bits expected) and
an added sentence of 15 words drops it to 0.93 (7.5 bits). With 3 bits half
of the republished copies would be missed. :data:`DEFAULT_MAX_DISTANCE` is
therefore **10 bits**: cosine similarity about 0.88 at the expected distance
(theta = 10 pi / 64). Two unrelated texts differ in 32 bits on average
(standard deviation 4); the two CoreCivic stories of the tests (earnings,
ICE contract) are 33 bits apart. Texts built from shared templates come
closer, which is why the threshold is not higher. Pairwise precision and
recall on the benchmark's 20,000 synthetic articles (seed 7, whose unrelated
articles share whole sentence templates, more than real news does):

=========  =========  ======  ========================
max bits   precision  recall  new stories wrongly merged
=========  =========  ======  ========================
3          1.000      0.498   0
6          1.000      0.800   0
8          1.000      0.922   0
10         0.992      0.974   20 of 16,458
12         0.916      0.994   213
14         0.496      1.000   1,530
=========  =========  ======  ========================

Choose 8 where a new story wrongly taken for a repeat costs more than a
repeat taken for news.

Why no LSH banding
------------------
Banding finds every pair within *k* bits only with at least *k* + 1 bands
(pigeonhole); at 10 bits that is 11 bands of 5 or 6 bits, each of which a
random pair shares with probability 1/32 to 1/64, so a fifth of the index
would be candidates anyway. :class:`StoryIndex` instead compares a new
fingerprint with every article published within the time window, XOR and
popcount over a numpy array: exact (no pair within the threshold is ever
missed), and cheap (about 50 microseconds per article in the benchmark, with
2,000 articles in the window).
Articles are kept in buckets one window wide, so a look-up touches three
buckets whatever the size of the history.

Novelty
-------
A first article scores 100. A repeat that joins a story at distance *d* when
the story already holds *n* articles scores::

    novelty = 50 * d / (max_distance + 1) / n

which is 0 for a copy (distance 0), below 50 for any repeat, grows with the
distance and shrinks as the story accumulates copies.
"""

from __future__ import annotations

import hashlib
import logging
import re
import string
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import repeat
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes, urlsplit, urlunsplit

import numpy as np

from monitor.models import Article, ensure_utc

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "DEFAULT_WINDOW",
    "MIN_SIMHASH_TOKENS",
    "SHINGLE_SIZE",
    "TRACKING_PARAMETERS",
    "TRACKING_PREFIXES",
    "ExactIndex",
    "StoryIndex",
    "StoryMatch",
    "canonical_url",
    "hamming",
    "identities",
    "novelty",
    "simhash",
    "simhashes",
    "tokens",
]

# --------------------------------------------------------------------------- canonical URLs

#: Query parameters that only say how a reader arrived (campaign, click and
#: share trackers); they are dropped from canonical URLs. Compared case-insensitively.
#: Dropping a parameter that selects content would make two pages one (and
#: drop the second as a copy), so only parameters known as trackers are listed.
TRACKING_PARAMETERS: frozenset[str] = frozenset(
    {
        # ad-click identifiers: Meta, Google, DoubleClick, Microsoft, Yandex, X, TikTok, LinkedIn
        "fbclid", "gclid", "gclsrc", "dclid", "wbraid", "gbraid", "msclkid", "yclid",
        "twclid", "ttclid", "li_fat_id", "igshid",
        # e-mail campaigns: Mailchimp, HubSpot, Marketo
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok",
        # analytics
        "_ga", "_gl",
        # referrers and newsroom campaign codes (CNN, NBC, Yahoo, NYT, WSJ...)
        "ref", "ref_src", "ref_url", "referrer", "cmpid", "ncid", "s_cid", "smid", "smtyp", "sr_share",
        # Yahoo consent redirects and share trackers
        "guccounter", "guce_referrer", "guce_referrer_sig", "yptr", "soc_src", "soc_trk",
        ".tsrc", "tsrc",
    }
)  # fmt: skip

#: Query parameter prefixes that mark tracking parameters (``utm_source``, ``utm_medium``...).
#:
#: ``src`` is deliberately *not* dropped: some publishers use it for content
#: (an image or a feed), and keeping a tracker only costs a missed URL match
#: that the content hash or the SimHash still catches.
TRACKING_PREFIXES: tuple[str, ...] = ("utm_",)

#: Characters RFC 3986 never needs escaped.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
#: Characters left unescaped in a path (segment delimiters and sub-delimiters).
_PATH_SAFE = "/:@!$&'()*+,;="
#: Characters left unescaped in a query key or value ("&", "=", "+" and "#" are escaped).
_QUERY_SAFE = "/:@!$'()*,;?"
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


def _normalise_escapes(part: str, safe: str) -> str:
    """Escape ``part`` the one way: unreserved bytes literal, others ``%XX`` in upper case.

    Existing escapes of unreserved characters are decoded, other escapes are
    kept (so ``%2F`` in a path stays distinct from ``/``), and characters that
    need escaping (spaces, non-ASCII, a ``%`` that starts no escape) are
    escaped as UTF-8.
    """
    out: list[str] = []
    pos = 0
    for match in _PERCENT.finditer(part):
        out.append(quote(part[pos : match.start()], safe=safe))
        char = chr(int(match.group(1), 16))
        out.append(char if char in _UNRESERVED else "%" + match.group(1).upper())
        pos = match.end()
    out.append(quote(part[pos:], safe=safe))
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: resolve ``.`` and ``..`` segments of an absolute path."""
    segments = path.split("/")[1:]
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    trailing = bool(segments) and segments[-1] in (".", "..") and bool(kept)
    return "/" + "/".join(kept) + ("/" if trailing else "")


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PREFIXES)


def _canonical_query(query: str) -> str:
    pairs: list[tuple[str, str]] = []
    for field in query.split("&"):
        if not field:
            continue
        raw_key, _, raw_value = field.partition("=")
        # "+" and "%20" both mean a space in a query: decode both (to bytes, losslessly)
        # and escape again the one way.
        key = unquote_to_bytes(raw_key.replace("+", " "))
        value = unquote_to_bytes(raw_value.replace("+", " "))
        if not key or _is_tracking(key.decode("utf-8", "replace")):
            continue
        pairs.append((quote_from_bytes(key, safe=_QUERY_SAFE), quote_from_bytes(value, safe=_QUERY_SAFE)))
    pairs.sort()
    return "&".join(f"{key}={value}" for key, value in pairs)


def _canonical_host(host: str) -> str | None:
    host = host.rstrip(".").lower()
    if not host:
        return None
    if host.startswith("www."):
        host = host[4:]
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return host


def canonical_url(url: str | None) -> str | None:
    """The form of a news URL under which copies of one page compare equal.

    Parameters
    ----------
    url
        An absolute ``http`` or ``https`` URL, as a feed or page gave it.

    Returns
    -------
    str or None
        The canonical URL, or ``None`` for ``None``, an empty string, a URL
        of another scheme (``javascript:``, ``mailto:``, ``ftp:``), a
        relative or scheme-less URL, a URL without a host or with an invalid
        port.

    Notes
    -----
    The canonical form:

    - scheme ``https`` for both ``http`` and ``https``: news sites serve the
      same page on both, and merging them is what deduplication wants;
    - host lower-cased, a trailing dot and a leading ``www.`` removed,
      internationalised names in their ASCII (IDNA) form; user and password
      dropped; ports 80 and 443 dropped, others kept;
    - path with ``.``/``..`` segments resolved, percent-escapes normalised
      (unreserved characters literal, other escapes upper-case, spaces and
      non-ASCII characters escaped as UTF-8), and a trailing slash removed
      except for the root ``/``; the path keeps its case;
    - query without tracking parameters (:data:`TRACKING_PARAMETERS`, any
      name starting with :data:`TRACKING_PREFIXES`, compared
      case-insensitively) and without empty fields, ``+`` and ``%20`` both
      read as a space, every key and value escaped the one way, pairs sorted
      (duplicates kept, ``a`` and ``a=`` the same); no ``?`` when nothing is
      left;
    - no fragment.

    Examples
    --------
    >>> canonical_url("HTTP://WWW.Reuters.com:80/markets/cxw/?utm_source=x&b=2&a=1#top")
    'https://reuters.com/markets/cxw?a=1&b=2'
    """
    if not url or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = _canonical_host(parts.hostname)
    if host is None:
        return None
    netloc = f"[{host}]" if ":" in host else host  # IPv6 literals keep their brackets
    if port is not None and port not in (80, 443):
        netloc += f":{port}"
    path = _remove_dot_segments(_normalise_escapes(parts.path or "/", _PATH_SAFE))
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    return urlunsplit(("https", netloc, path, _canonical_query(parts.query), ""))


# --------------------------------------------------------------------------- exact duplicates


def identities(article: Article) -> tuple[str, ...]:
    """The identities under which ``article`` is an exact duplicate of another.

    Returns
    -------
    tuple of str
        ``"text:<Article.key>"`` always; ``"url:<canonical URL>"`` when the
        article has a usable URL; ``"guid:<source>:<guid>"`` when the
        publisher gave a GUID. A GUID that is itself an http(s) URL (RSS
        ``isPermaLink``) is read as a URL instead. Other GUIDs are scoped to
        their source: publishers only promise uniqueness within a feed, and
        short numeric GUIDs of two feeds would otherwise collide.
    """
    found = [f"text:{article.key}"]
    urls = {canonical_url(article.url)}
    guid = (article.guid or "").strip()
    if guid:
        as_url = canonical_url(guid)
        if as_url is not None:
            urls.add(as_url)
        else:
            found.append(f"guid:{article.source}:{guid}")
    found.extend(f"url:{url}" for url in sorted(u for u in urls if u is not None))
    return tuple(found)


class ExactIndex:
    """The first article seen under each identity (see :func:`identities`).

    :meth:`add` answers ``None`` for a new article and the key of the
    earlier one for an exact duplicate (same text, canonical URL or GUID).
    """

    def __init__(self) -> None:
        self._first: dict[str, str] = {}

    def duplicate_of(self, article: Article) -> str | None:
        """The key of the earlier article ``article`` duplicates, or ``None``; records nothing."""
        for identity in identities(article):
            if identity in self._first:
                return self._first[identity]
        return None

    def add(self, article: Article) -> str | None:
        """Record ``article`` unless it duplicates an earlier one.

        Returns
        -------
        str or None
            ``None`` for a new article (its identities are recorded), else
            the key of the earlier article it duplicates (nothing recorded:
            the duplicate's own URL or GUID does not become an identity).
        """
        earlier = self.duplicate_of(article)
        if earlier is None:
            self.load([(article.key, identities(article))])
        return earlier

    def load(self, rows: Iterable[tuple[str, Iterable[str]]]) -> None:
        """Record stored articles: ``(key, identities)`` pairs, the first holder of an identity wins."""
        for key, found in rows:
            for identity in found:
                self._first.setdefault(identity, key)

    def __contains__(self, identity: object) -> bool:
        return identity in self._first

    def __len__(self) -> int:
        """The number of identities recorded."""
        return len(self._first)


# --------------------------------------------------------------------------- fingerprints

#: Tokens per shingle.
SHINGLE_SIZE = 3
#: Texts with fewer tokens get an exact fingerprint (hash of the token sequence), not a SimHash.
MIN_SIMHASH_TOKENS = 8
#: Texts fingerprinted together by :func:`simhashes` (memory grows with the batch's tokens).
_BATCH_TEXTS = 4096
#: Largest count a 16-bit lane of the bit counter holds.
_LANE_MAX = (1 << 16) - 1

_URL_IN_TEXT = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_BOILERPLATE_LINE = re.compile(
    r"""^\W*(?:
        read\ (?:more|next|the\ full\ (?:story|article))\b
        |related(?:\ (?:stories|articles|coverage|news|content|links))?\s*:
        |see\ also\b|also\ read\b|more\ from\b|recommended\ (?:stories|reading)\b|trending\ now\b
        |share\ (?:this|the\ (?:article|story)|on|via)\b|follow\ us\b|sign\ up\ (?:for|to|here|now)\b
        |subscribe\ (?:to|now|here|for)\b|click\ here\b
        |copyright\s*(?:©|\(c\)|\d{4})|©|\(c\)\s*\d{4}|all\ rights\ reserved\b
        |\(?\s*(?:additional\ )?(?:reporting|writing|editing|compiled)\ by\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)
#: A byline on its own line, names capitalised: "By Jane Doe", "By Jane Doe and John O'Neil, Reuters".
_BYLINE = re.compile(
    r"^\s*By\s+[A-Z][\w.'’-]*(?:(?:\s+|\s*,\s*|\s+(?:and|&)\s+)(?:[A-Z][\w.'’-]*|in|for|at)){0,7}\s*[.|]?\s*$"
)
#: Words of share-button rows ("Share: Facebook | X | LinkedIn | Email").
_SHARE_WORDS = frozenset(
    "share shares tweet facebook twitter x linkedin email e-mail mail whatsapp reddit telegram "
    "pinterest print copy link url this article story on via save comment comments".split()
)
#: Punctuation stripped from both ends of a word (ASCII, and the usual typographic marks).
_PUNCTUATION = string.punctuation + "“”‘’‚„«»‹›–—―…•·¡¿©®™°§¶†‡"
#: Lines longer than this are never boilerplate (boilerplate is a line of its own, and short).
_BOILERPLATE_MAX_CHARS = 240
#: Lines longer than this are never a row of share buttons.
_SHARE_ROW_MAX_CHARS = 120


def _is_boilerplate(line: str) -> bool:
    stripped = line.strip()
    if not stripped or len(stripped) > _BOILERPLATE_MAX_CHARS:
        return False
    if _BOILERPLATE_LINE.match(stripped) or (stripped.startswith("By ") and _BYLINE.match(stripped)):
        return True
    if len(stripped) > _SHARE_ROW_MAX_CHARS:
        return False
    words = _words(stripped.casefold())
    return bool(words) and _SHARE_WORDS.issuperset(words)


def _words(folded: str) -> list[str]:
    """White-space separated words without the punctuation at their ends; empty ones dropped."""
    return list(filter(None, map(str.strip, folded.split(), repeat(_PUNCTUATION))))


def tokens(text: str) -> list[str]:
    """The words a fingerprint is made of.

    URLs and boilerplate lines are removed (see the module documentation),
    the rest is NFKC-normalised and case-folded like
    :func:`~monitor.models.normalise_text`, split at white space, and each
    word loses the punctuation at its ends; inner punctuation stays
    (``1,234.5``, ``u.s``, ``tennessee-based``, ``s&p``) and words made
    only of punctuation are dropped.

    Examples
    --------
    >>> tokens("CoreCivic (CXW) beat: EPS $0.26, up 1,234.5%!\\nRead more: https://x.com/a")
    ['corecivic', 'cxw', 'beat', 'eps', '0.26', 'up', '1,234.5']
    """
    if "://" in text or "www." in text or "WWW." in text:
        text = _URL_IN_TEXT.sub(" ", text)
    text = "\n".join(line for line in text.splitlines() if not _is_boilerplate(line))
    return _words(unicodedata.normalize("NFKC", text).casefold())


_M64 = (1 << 64) - 1
_U64 = np.dtype("<u8")
_U16 = np.dtype("<u2")
_LANE_MASK = np.uint64(0x0001000100010001)
#: Odd multipliers that make a shingle's hash depend on the order of its tokens.
_MULTIPLIERS = tuple(
    np.uint64(c) for c in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9)
)
_FMIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_SHIFT_33 = np.uint64(33)


def _fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser on a ``uint64`` array (wrapping arithmetic)."""
    x = x ^ (x >> _SHIFT_33)
    x = x * _FMIX_1
    x = x ^ (x >> _SHIFT_33)
    x = x * _FMIX_2
    return x ^ (x >> _SHIFT_33)


def _blake64(data: str) -> int:
    return int.from_bytes(hashlib.blake2b(data.encode("utf-8"), digest_size=8).digest(), "little")


def _to_signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def simhashes(texts: Sequence[str]) -> np.ndarray:
    """64-bit fingerprints of many texts at once.

    Parameters
    ----------
    texts
        Plain texts, typically :attr:`Article.text` (title and body).

    Returns
    -------
    numpy.ndarray
        ``int64``, one fingerprint per text, in order: the SimHash of the
        text's 3-token shingles, or for texts of fewer than
        :data:`MIN_SIMHASH_TOKENS` tokens the BLAKE2b hash of the token
        sequence (see the module documentation). Equal to
        ``[simhash(t) for t in texts]``.
    """
    result = np.zeros(len(texts), dtype=np.int64)
    for first in range(0, len(texts), _BATCH_TEXTS):  # batches bound the memory used
        batch = texts[first : first + _BATCH_TEXTS]
        words: list[str] = []
        lengths = np.zeros(len(batch), dtype=np.int64)
        for i, text in enumerate(batch):
            found = tokens(text)
            if len(found) < MIN_SIMHASH_TOKENS:
                result[first + i] = _to_signed(_blake64("\x1f".join(found)))
            else:
                lengths[i] = len(found)
                words.extend(found)
        long_texts = np.flatnonzero(lengths)
        if long_texts.size:
            result[first + long_texts] = _simhash_tokens(words, lengths[long_texts])
    return result


def _simhash_tokens(words: list[str], lengths: np.ndarray) -> np.ndarray:
    """SimHash of consecutive texts whose tokens are ``words``, ``lengths[i]`` (>= 3) for text ``i``."""
    position = {word: i for i, word in enumerate(dict.fromkeys(words))}
    word_hash = np.array([_blake64(word) for word in position], dtype=np.uint64)
    hashed = word_hash[np.fromiter(map(position.__getitem__, words), dtype=np.int64, count=len(words))]

    k = SHINGLE_SIZE
    starts = len(hashed) - k + 1
    combined = hashed[:starts] * _MULTIPLIERS[0]
    for j in range(1, k):
        combined = combined + hashed[j : starts + j] * _MULTIPLIERS[j]
    # A shingle is valid when its k tokens belong to one text: drop the last k-1 starts of each text.
    ends = np.cumsum(lengths)
    valid = np.ones(starts, dtype=bool)
    for j in range(1, k):
        last = ends - j
        valid[last[last < starts]] = False
    shingles = _fmix64(combined[valid])
    per_text = lengths - (k - 1)

    # Bit counts per text, 16 bits at a time: (shingle >> b) & 0x0001000100010001 keeps bits
    # b, b+16, b+32, b+48 in four 16-bit lanes, and one uint64 addition adds all four lanes.
    # A lane holds at most 65,535, so texts are summed in segments of at most that many shingles.
    segment_starts, segment_text = _segments(per_text, _LANE_MAX)
    segment_counts = np.empty((segment_starts.size, 64), dtype=np.int64)
    lane = np.empty_like(shingles)
    for bit in range(16):
        np.right_shift(shingles, np.uint64(bit), out=lane)
        np.bitwise_and(lane, _LANE_MASK, out=lane)
        sums = np.add.reduceat(lane, segment_starts).astype(_U64).view(_U16).reshape(-1, 4)
        segment_counts[:, bit::16] = sums
    counts = np.add.reduceat(segment_counts, np.flatnonzero(np.diff(segment_text, prepend=-1)), axis=0)

    majority = (2 * counts > per_text[:, None]).astype(np.uint8)
    # Byte 0 holds bits 0-7: read the bytes as a little-endian integer, then in native order.
    packed = np.packbits(majority, axis=1, bitorder="little").view(_U64).ravel()
    return packed.astype(np.uint64).view(np.int64)


def _segments(sizes: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets of consecutive runs of ``sizes`` items cut into segments of at most ``limit``.

    Returns the start of every segment and the index of the run it belongs to.
    """
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    if int(sizes.max()) <= limit:
        return offsets, np.arange(sizes.size)
    pieces = -(-sizes // limit)
    run = np.repeat(np.arange(sizes.size), pieces)
    within = np.arange(run.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    return offsets[run] + within * limit, run


def simhash(text: str) -> int:
    """The 64-bit fingerprint of one text, as a signed integer (fits a SQL ``BIGINT``).

    Same value as :func:`simhashes` gives for the text; see the module
    documentation for the algorithm.
    """
    return int(simhashes([text])[0])


def hamming(a: int, b: int) -> int:
    """The number of bits in which two 64-bit fingerprints differ.

    Signed and unsigned forms of one bit pattern are equal (``-1`` and
    ``2**64 - 1`` are at distance 0).
    """
    return ((a ^ b) & _M64).bit_count()


if hasattr(np, "bitwise_count"):  # numpy >= 2.0

    def _popcount(x: np.ndarray) -> np.ndarray:
        # bitwise_count counts the bits of the absolute value of a signed integer: count the pattern.
        return np.bitwise_count(x.view(np.uint64))

else:  # pragma: no cover - numpy 1.26
    _BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)

    def _popcount(x: np.ndarray) -> np.ndarray:
        return _BYTE_BITS[x.view(np.uint64).view(np.uint8).reshape(-1, 8)].sum(axis=1, dtype=np.uint8)


# --------------------------------------------------------------------------- stories

#: Default :class:`StoryIndex` threshold, in bits (see the module documentation).
DEFAULT_MAX_DISTANCE = 10
#: Default :class:`StoryIndex` window: a repeat further from its closest match starts a new story.
DEFAULT_WINDOW = timedelta(days=3)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def novelty(distance: int, max_distance: int, story_size: int) -> float:
    """How new a repeat is, 0-100: ``50 * distance / (max_distance + 1) / story_size``.

    Parameters
    ----------
    distance
        Hamming distance to the closest earlier article of the story, 0 to ``max_distance``.
    max_distance
        The threshold of the index.
    story_size
        Articles already in the story (at least 1).

    Returns
    -------
    float
        0 for a copy, below 50 for any repeat; a first article scores 100
        (not computed here).
    """
    return 50.0 * distance / (max_distance + 1) / max(story_size, 1)


@dataclass(frozen=True)
class StoryMatch:
    """Where :meth:`StoryIndex.add` put an article."""

    story_key: str  #: the key of the story's first article
    is_first: bool  #: this article starts a new story
    novelty: float  #: 0-100: 100 for the first of a story, lower for repeats
    similar_to: str | None  #: key of the closest earlier article, None if first
    distance: int | None  #: Hamming distance to it, None if first


class _Bucket:
    """The articles published in one window-wide slice of time: fingerprints and positions.

    Both are ``int64`` arrays grown by doubling, so appends are amortised O(1).
    """

    __slots__ = ("fingerprints", "positions", "size")

    def __init__(self) -> None:
        self.fingerprints = np.empty(16, dtype=np.int64)
        self.positions = np.empty(16, dtype=np.int64)
        self.size = 0

    def append(self, fingerprint: int, position: int) -> None:
        if self.size == self.fingerprints.size:
            self.fingerprints = np.concatenate((self.fingerprints, np.empty_like(self.fingerprints)))
            self.positions = np.concatenate((self.positions, np.empty_like(self.positions)))
        self.fingerprints[self.size] = fingerprint
        self.positions[self.size] = position
        self.size += 1

    def within(self, fingerprint: np.int64, max_distance: int) -> Iterator[tuple[int, int]]:
        """(position, distance) of the articles within ``max_distance`` bits of ``fingerprint``."""
        distances = _popcount(self.fingerprints[: self.size] ^ fingerprint)
        for i in np.flatnonzero(distances <= max_distance):
            yield int(self.positions[i]), int(distances[i])


class StoryIndex:
    """Groups near-duplicate articles into stories.

    A new article joins the story of the closest article added before it
    whose fingerprint is within ``max_distance`` bits and whose publication
    time is within ``window`` of its own (either side: sources deliver late).
    Ties on distance go to the earliest published, then the smallest key, so
    the answer does not depend on the order in which rows were loaded.
    Otherwise the article starts a story of its own. A story grows by
    chaining: each repeat is compared with every member, not only the first.

    Parameters
    ----------
    max_distance
        Largest Hamming distance, in bits, between an article and the one it
        repeats; 0 to 63. The default, 10, is explained in the module
        documentation.
    window
        Largest gap between the publication times of an article and the
        one it repeats; positive.

    Raises
    ------
    ValueError
        For a threshold or window out of range.
    """

    def __init__(self, max_distance: int = DEFAULT_MAX_DISTANCE, window: timedelta = DEFAULT_WINDOW) -> None:
        if not 0 <= max_distance < 64:
            raise ValueError(f"max_distance must be 0 to 63 bits, got {max_distance}")
        if window <= timedelta(0):
            raise ValueError(f"window must be positive, got {window}")
        self.max_distance = max_distance
        self.window = window
        self._width = window // _MICROSECOND
        # Per article, by position (the order of indexing): key, publication time in
        # microseconds since the epoch, story number.
        self._keys: list[str] = []
        self._times: list[int] = []
        self._stories: list[int] = []
        self._positions: dict[str, int] = {}
        self._buckets: dict[int, _Bucket] = {}
        self._story_keys: list[str] = []
        self._story_ids: dict[str, int] = {}
        self._story_sizes: list[int] = []

    def __len__(self) -> int:
        """The number of articles indexed."""
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._positions

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def story_of(self, key: str) -> str:
        """The story key of an indexed article; :class:`KeyError` if it is not indexed."""
        return self._story_keys[self._stories[self._positions[key]]]

    def story_size(self, story_key: str) -> int:
        """The number of indexed articles in a story (0 for an unknown story)."""
        story = self._story_ids.get(story_key)
        return 0 if story is None else self._story_sizes[story]

    def add(self, key: str, fingerprint: int, published_at: datetime) -> StoryMatch:
        """Place a new article in a story and index it.

        Parameters
        ----------
        key
            The article's key (:attr:`Article.key`), not yet indexed.
        fingerprint
            Its :func:`simhash`, signed or unsigned 64-bit.
        published_at
            Its publication time, timezone-aware.

        Returns
        -------
        StoryMatch
            The story it joined or started, its novelty, the closest
            earlier article and the distance to it.

        Raises
        ------
        ValueError
            For a key already indexed (exact duplicates are removed before
            stories are looked for), or a naive ``published_at``.
        """
        if key in self._positions:
            raise ValueError(f"article {key} is already in the story index")
        fingerprint = _to_signed(fingerprint & _M64)
        stamp = (ensure_utc(published_at) - _EPOCH) // _MICROSECOND
        best = self._closest(fingerprint, stamp)
        if best is None:
            self._insert(key, key, fingerprint, stamp)
            return StoryMatch(story_key=key, is_first=True, novelty=100.0, similar_to=None, distance=None)
        position, distance = best
        story_key = self._story_keys[self._stories[position]]
        score = novelty(distance, self.max_distance, self.story_size(story_key))
        self._insert(key, story_key, fingerprint, stamp)
        return StoryMatch(
            story_key=story_key,
            is_first=False,
            novelty=score,
            similar_to=self._keys[position],
            distance=distance,
        )

    def load(self, rows: Iterable[tuple[str, str, int, datetime]]) -> None:
        """Index stored articles, to rebuild the index when a process starts.

        Parameters
        ----------
        rows
            ``(key, story_key, fingerprint, published_at)`` of stored
            articles, in any order. A story's first article need not be
            among them (a process may load only the recent past); story
            sizes, and so novelty, count the loaded articles only.

        Raises
        ------
        ValueError
            For a key already indexed or a naive ``published_at``.
        """
        loaded = 0
        for key, story_key, fingerprint, published_at in rows:
            if key in self._positions:
                raise ValueError(f"article {key} is already in the story index")
            stamp = (ensure_utc(published_at) - _EPOCH) // _MICROSECOND
            self._insert(key, story_key, _to_signed(fingerprint & _M64), stamp)
            loaded += 1
        logger.debug("story index: loaded %d articles, %d in total", loaded, len(self))

    def _closest(self, fingerprint: int, stamp: int) -> tuple[int, int] | None:
        """(position, distance) of the article a new one repeats, or None.

        Only the buckets next to the article's can hold articles within the
        window; the fingerprints are compared first (vectorised), the few
        within the threshold are then checked for time and ranked.
        """
        bucket = stamp // self._width
        target = np.int64(fingerprint)
        best: tuple[int, int, str, int] | None = None
        for b in (bucket - 1, bucket, bucket + 1):
            if b not in self._buckets:
                continue
            for position, distance in self._buckets[b].within(target, self.max_distance):
                published = self._times[position]
                if abs(published - stamp) > self._width:
                    continue
                rank = (distance, published, self._keys[position], position)
                if best is None or rank < best:
                    best = rank
        return None if best is None else (best[3], best[0])

    def _insert(self, key: str, story_key: str, fingerprint: int, stamp: int) -> None:
        story = self._story_ids.get(story_key)
        if story is None:
            story = self._story_ids[story_key] = len(self._story_keys)
            self._story_keys.append(story_key)
            self._story_sizes.append(0)
        self._story_sizes[story] += 1
        position = len(self._keys)
        self._keys.append(key)
        self._times.append(stamp)
        self._stories.append(story)
        self._positions[key] = position
        bucket = self._buckets.get(stamp // self._width)
        if bucket is None:
            bucket = self._buckets[stamp // self._width] = _Bucket()
        bucket.append(fingerprint, position)
