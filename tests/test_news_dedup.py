"""Tests of monitor.news.dedup: canonical URLs, exact identities, SimHash, stories."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import random
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.models import TEXT_SEPARATOR, Article
from monitor.news import dedup
from monitor.news.dedup import (
    DEFAULT_MAX_DISTANCE,
    MIN_SIMHASH_TOKENS,
    ExactIndex,
    StoryIndex,
    StoryMatch,
    canonical_url,
    hamming,
    identities,
    novelty,
    simhash,
    simhashes,
    tokens,
)

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 2, 12, 21, 5, tzinfo=timezone.utc)

# --------------------------------------------------------------------------- realistic wire text

EARNINGS_TITLE = "CoreCivic beats quarterly profit estimates on higher occupancy"
EARNINGS_BODY = """Feb 12 (Reuters) - CoreCivic Inc beat Wall Street estimates for fourth-quarter profit on \
Wednesday, as the private prison operator benefited from higher occupancy at its detention centers amid a \
renewed federal crackdown on immigration.

The Brentwood, Tennessee-based company reported adjusted earnings of 26 cents per share, compared with \
analysts' average estimate of 22 cents, according to data compiled by LSEG. Revenue rose 4.1% to $479.3 million.

CoreCivic said it expects full-year 2025 adjusted earnings between 98 cents and $1.06 per share, and raised its \
capital spending plan to reopen idle facilities for U.S. Immigration and Customs Enforcement. Shares of the \
company rose 3% in extended trading."""
EARNINGS = EARNINGS_TITLE + TEXT_SEPARATOR + EARNINGS_BODY

CONTRACT = (
    "CoreCivic wins ICE contract to reopen New Mexico detention center"
    + TEXT_SEPARATOR
    + """March 3 (Reuters) - CoreCivic Inc said on Monday it had signed a new agreement with U.S. Immigration \
and Customs Enforcement to reopen its idle Cibola facility in New Mexico, the latest in a string of contracts as \
the Trump administration expands immigrant detention.

The five-year contract covers up to 1,100 beds and is expected to generate about $80 million in annual revenue \
once the facility is fully activated in the third quarter, the company said. CoreCivic did not disclose the cost \
of refurbishing the site.

Shares of the Brentwood, Tennessee-based company rose 2% in morning trading, while rival GEO Group was little \
changed."""
)

#: The same story as republished elsewhere.
HEADLINE_WORD = EARNINGS.replace("CoreCivic beats", "CoreCivic tops", 1)
BYLINE = EARNINGS_TITLE + TEXT_SEPARATOR + "By Jane Doe and Arasu Kannagi Basil\n\n" + EARNINGS_BODY
BOILERPLATE = (
    EARNINGS
    + "\n\nRead more: CoreCivic, GEO Group shares surge after Trump win https://www.reuters.com/markets/cxw-geo"
    + "\nShare this article: Facebook | X | LinkedIn | Email"
    + "\n\n(Reporting by Abhinav Parmar in Bengaluru; Editing by Shinjini Ganguli)"
)
ALL_EDITS = (
    HEADLINE_WORD.replace(TEXT_SEPARATOR, TEXT_SEPARATOR + "By Jane Doe\n\n", 1)
    + " Read more about private prison stocks and follow us for the latest market news."
    + "\n\nShare: Facebook | X | Email"
)
#: A portal's rewrite: longer headline, no dateline, one sentence added (6 bits from the wire).
REWRITE = (
    "CoreCivic tops quarterly profit estimates on higher occupancy at detention centers"
    + TEXT_SEPARATOR
    + EARNINGS_BODY.replace("Feb 12 (Reuters) - ", "(Reuters) - ")
    + " The stock has gained about 60% since the November election."
)


# --------------------------------------------------------------------------- canonical URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # tracking parameters
        (
            "https://www.reuters.com/markets/us/corecivic-results-2025-02-12/?utm_source=twitter&utm_medium=social",
            "https://reuters.com/markets/us/corecivic-results-2025-02-12",
        ),
        (
            "https://finance.yahoo.com/news/corecivic-reports-211500123.html"
            "?guccounter=1&guce_referrer=aHR0cHM6Ly93d3c&guce_referrer_sig=AQAAA&.tsrc=rss",
            "https://finance.yahoo.com/news/corecivic-reports-211500123.html",
        ),
        ("https://example.com/a?fbclid=IwAR0&id=7&GCLID=x&UTM_Campaign=y&ncid=z", "https://example.com/a?id=7"),
        ("https://example.com/a?src=rss&ref=home", "https://example.com/a?src=rss"),
        # fragment, host case (the path keeps its case), default ports
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://NEWS.Example.COM./Markets/CXW", "https://news.example.com/Markets/CXW"),
        ("http://example.com:80/a", "https://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://user:secret@example.com/a", "https://example.com/a"),
        # query: sorted, duplicates kept, "+" and "%20" alike, empty fields dropped
        ("https://example.com/q?b=2&a=1&a=0", "https://example.com/q?a=0&a=1&b=2"),
        ("https://example.com/q?q=private+prisons&&x", "https://example.com/q?q=private%20prisons&x="),
        ("https://example.com/q?utm_source=a", "https://example.com/q"),
        # trailing slash, root, dot segments
        ("https://example.com/a/b/", "https://example.com/a/b"),
        ("https://example.com/", "https://example.com/"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        # escapes: unreserved decoded, others upper case, raw characters escaped, %2F kept
        ("https://example.com/a%2db/%7euser/caf%c3%a9 x", "https://example.com/a-b/~user/caf%C3%A9%20x"),
        ("https://example.com/café/a%2Fb", "https://example.com/caf%C3%A9/a%2Fb"),
        ("https://bücher.example/x", "https://xn--bcher-kva.example/x"),
        # scheme
        ("HTTP://example.com/a", "https://example.com/a"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [None, "", "   ", "javascript:alert(1)", "mailto:desk@example.com", "ftp://example.com/a",
     "/markets/cxw", "www.example.com/a", "https://", "https://example.com:99999/a"],
)  # fmt: skip
def test_canonical_url_refuses(url: str | None) -> None:
    assert canonical_url(url) is None


def test_http_and_https_and_www_are_one_page() -> None:
    variants = [
        "http://www.reuters.com/markets/cxw?id=1",
        "https://reuters.com/markets/cxw/?id=1#top",
        "https://Reuters.com:443/markets/cxw?utm_source=rss&id=1",
    ]
    assert len({canonical_url(u) for u in variants}) == 1


_segment = st.text(alphabet="abcXYZ09-._~%/ é+", max_size=8)


@settings(max_examples=200, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTPS"]),
    host=st.sampled_from(["example.com", "WWW.Example.com", "news.example.com."]),
    port=st.sampled_from(["", ":80", ":443", ":8080"]),
    path=_segment,
    query=st.lists(st.tuples(st.sampled_from(["a", "b", "utm_x", "ref", "q"]), _segment), max_size=4),
    fragment=_segment,
)
def test_canonical_url_is_idempotent(
    scheme: str, host: str, port: str, path: str, query: list[tuple[str, str]], fragment: str
) -> None:
    url = f"{scheme}://{host}{port}/{path}?" + "&".join(f"{k}={v}" for k, v in query) + f"#{fragment}"
    once = canonical_url(url)
    assert once is not None
    assert canonical_url(once) == once
    assert "utm_x=" not in once and "ref=" not in once and "#" not in once and " " not in once


# --------------------------------------------------------------------------- exact duplicates


def article(source: str, text: str = EARNINGS, url: str | None = None, guid: str | None = None) -> Article:
    title, _, body = text.partition(TEXT_SEPARATOR)
    return Article(source=source, source_id=guid or url or source, title=title, body=body,
                   published_at=T0, url=url, guid=guid)  # fmt: skip


def test_identities() -> None:
    art = article("rss:wire", url="http://www.wire.example/cxw/?utm_source=rss", guid="tag:wire,2025:123")
    assert identities(art) == (
        f"text:{art.key}",
        "guid:rss:wire:tag:wire,2025:123",
        "url:https://wire.example/cxw",
    )
    # A permalink GUID is a URL; no URL and no GUID leave the text only.
    permalink = article("rss:wire", guid="https://wire.example/cxw#x")
    assert identities(permalink)[1:] == ("url:https://wire.example/cxw",)
    assert identities(article("files")) == (f"text:{article('files').key}",)


def test_exact_index_finds_copies_by_text_url_and_guid() -> None:
    index = ExactIndex()
    first = article("rss:wire", url="https://wire.example/cxw", guid="123")
    assert index.add(first) is None
    # same text from another source, differently spaced and cased
    assert index.add(article("yahoo", EARNINGS.upper().replace(" ", "  "))) == first.key
    # other text, same page behind a tracking link
    assert index.add(article("rss:portal", CONTRACT, url="http://www.wire.example/cxw/?fbclid=1")) == first.key
    # other text, same GUID in the same feed; the same GUID in another feed is someone else's
    assert index.add(article("rss:wire", CONTRACT, guid="123")) == first.key
    other_feed = article("rss:other", CONTRACT, guid="123")
    assert index.duplicate_of(other_feed) is None
    assert index.add(other_feed) is None
    assert index.add(article("rss:x", CONTRACT)) == other_feed.key
    assert "guid:rss:other:123" in index


def test_exact_index_load() -> None:
    first = article("rss:wire", url="https://wire.example/cxw")
    index = ExactIndex()
    index.load([(first.key, identities(first))])
    assert len(index) == 2
    assert index.add(article("rss:portal", CONTRACT, url="https://wire.example/cxw?utm_medium=x")) == first.key


# --------------------------------------------------------------------------- tokens and fingerprints


def test_tokens_strip_punctuation_and_boilerplate() -> None:
    text = (
        "CoreCivic (CXW) beat: EPS $0.26, up 1,234.5%!\n"
        "By Jane Doe and John O'Neil\n"
        "Read more: https://example.com/cxw\n"
        "Share: Facebook | X | LinkedIn | Email\n"
        "(Reporting by Jane Doe; Editing by Bill Berkrot)\n"
        "Copyright 2025 Example. All rights reserved.\n"
        "By midday, U.S. shares were up. See www.example.com — “quotes” too…"
    )
    assert tokens(text) == [
        "corecivic", "cxw", "beat", "eps", "0.26", "up", "1,234.5",
        "by", "midday", "u.s", "shares", "were", "up", "see", "quotes", "too",
    ]  # fmt: skip
    # Content lines that merely start like boilerplate are kept.
    assert tokens("Subscribers rose 4%.\nSign-ups doubled.\nShare prices fell.") == [
        "subscribers", "rose", "4", "sign-ups", "doubled", "share", "prices", "fell",
    ]  # fmt: skip


def _reference_simhash(text: str) -> int:
    """The documented algorithm, one shingle at a time in plain Python."""
    words = tokens(text)
    mask = (1 << 64) - 1

    def blake(s: str) -> int:
        return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")

    def fmix(x: int) -> int:
        x ^= x >> 33
        x = (x * 0xFF51AFD7ED558CCD) & mask
        x ^= x >> 33
        x = (x * 0xC4CEB9FE1A85EC53) & mask
        return x ^ (x >> 33)

    if len(words) < MIN_SIMHASH_TOKENS:
        value = blake("\x1f".join(words))
    else:
        h = [blake(w) for w in words]
        shingles = Counter(
            fmix((h[i] * 0x9E3779B97F4A7C15 + h[i + 1] * 0xC2B2AE3D27D4EB4F + h[i + 2] * 0x165667B19E3779F9) & mask)
            for i in range(len(h) - 2)
        )
        total = len(h) - 2
        value = sum(
            1 << bit for bit in range(64) if 2 * sum(n for s, n in shingles.items() if s >> bit & 1) > total
        )
    return value - (1 << 64) if value >= 1 << 63 else value


def test_simhash_pinned_value() -> None:
    # A change of tokens, hashing or bit counting changes stored fingerprints: make it deliberate.
    assert simhash(EARNINGS) == -3213872838640282426
    assert simhash("CoreCivic shares rise") == _reference_simhash("CoreCivic shares rise")


TEXTS = [
    EARNINGS, CONTRACT, REWRITE, "", "   ", "!!", "one", "two words", "CoreCivic shares rise 3% after earnings",
    "exactly eight tokens make a simhash text here", "Ünïcödé ＣＯＲＥＣＩＶＩＣ ﬁnance and more words here ok",
    "a b c " * 40,
]  # fmt: skip


def test_simhashes_match_simhash_and_the_reference() -> None:
    batch = simhashes(TEXTS)
    assert batch.dtype == np.int64 and batch.shape == (len(TEXTS),)
    assert batch.tolist() == [simhash(t) for t in TEXTS] == [_reference_simhash(t) for t in TEXTS]
    assert all(type(simhash(t)) is int and -(2**63) <= simhash(t) < 2**63 for t in TEXTS)
    assert simhashes([]).shape == (0,)


def test_simhashes_of_texts_longer_than_a_counter_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    # Bits are counted in 16-bit lanes; longer texts are summed in segments. Shrink the lane to test that.
    rng = random.Random(3)
    texts = [" ".join(rng.choice("abcdefghij") for _ in range(rng.randint(8, 60))) for _ in range(40)]
    expected = [_reference_simhash(t) for t in texts]
    monkeypatch.setattr(dedup, "_LANE_MAX", 7)
    assert simhashes(texts).tolist() == expected
    monkeypatch.setattr(dedup, "_BATCH_TEXTS", 3)  # and in batches
    assert simhashes(texts).tolist() == expected


def test_simhash_is_the_same_in_another_process() -> None:
    code = "import sys; from monitor.news.dedup import simhashes; print(simhashes(sys.argv[1:]).tolist())"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code, EARNINGS, "two words"],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert runs == {f"{[simhash(EARNINGS), simhash('two words')]}\n"}


def test_short_texts_group_only_when_their_tokens_are_equal() -> None:
    assert simhash("CoreCivic shares rise") == simhash("COREcivic: shares, rise!")
    short = ["CoreCivic shares rise", "CoreCivic shares fall", "GEO shares rise", "shares rise CoreCivic"]
    prints = simhashes(short)
    assert all(hamming(int(a), int(b)) > DEFAULT_MAX_DISTANCE for i, a in enumerate(prints) for b in prints[i + 1 :])


@settings(max_examples=300)
@given(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1))
def test_hamming_properties(a: int, b: int) -> None:
    assert hamming(a, b) == hamming(b, a)
    assert (hamming(a, b) == 0) == (a == b)
    assert 0 <= hamming(a, b) <= 64
    assert hamming(a, b) == bin((a ^ b) % 2**64).count("1")
    assert hamming(a, a % 2**64) == 0  # signed and unsigned forms of one pattern


def test_hamming_values() -> None:
    assert hamming(0, -1) == 64
    assert hamming(0b1011, 0b0001) == 2
    assert hamming(-(2**63), 0) == 1


# --------------------------------------------------------------------------- stories of real text


def grouped(*texts: str, gap: timedelta = timedelta(hours=1), **kwargs: object) -> list[StoryMatch]:
    index = StoryIndex(**kwargs)  # type: ignore[arg-type]
    return [index.add(f"k{i}", simhash(t), T0 + i * gap) for i, t in enumerate(texts)]


@pytest.mark.parametrize("copy", [HEADLINE_WORD, BYLINE, BOILERPLATE, ALL_EDITS, REWRITE])
def test_republished_copies_join_the_story(copy: str) -> None:
    first, repeat = grouped(EARNINGS, copy)
    assert first == StoryMatch("k0", True, 100.0, None, None)
    assert repeat.story_key == "k0" and not repeat.is_first and repeat.similar_to == "k0"
    assert repeat.distance is not None and 0 <= repeat.novelty < 100


def test_default_threshold_catches_a_rewrite_that_three_bits_miss() -> None:
    assert 3 < hamming(simhash(EARNINGS), simhash(REWRITE)) <= DEFAULT_MAX_DISTANCE
    assert grouped(EARNINGS, REWRITE, max_distance=3)[1].is_first


def test_two_stories_about_one_company_stay_apart() -> None:
    earnings, contract = grouped(EARNINGS, CONTRACT)
    assert earnings.is_first and contract.is_first and contract.story_key == "k1"
    assert hamming(simhash(EARNINGS), simhash(CONTRACT)) > 2 * DEFAULT_MAX_DISTANCE


def test_a_repeat_after_the_window_is_a_new_story() -> None:
    first, month_later = grouped(EARNINGS, HEADLINE_WORD, gap=timedelta(days=30))
    assert month_later == StoryMatch("k1", True, 100.0, None, None)
    inside = grouped(EARNINGS, HEADLINE_WORD, gap=timedelta(days=3))  # the window's edge is inside
    assert not inside[1].is_first


def test_novelty() -> None:
    matches = grouped(EARNINGS, EARNINGS.upper(), REWRITE, ALL_EDITS.replace("Jane", "John"))
    assert [m.novelty for m in matches][:2] == [100.0, 0.0]  # a copy: nothing new
    assert all(m.novelty < 100 for m in matches[1:])
    assert matches[2].distance == hamming(simhash(EARNINGS), simhash(REWRITE))
    # The formula: grows with distance, shrinks as the story grows.
    assert novelty(0, 10, 1) == 0.0
    assert novelty(10, 10, 1) == pytest.approx(50 * 10 / 11)
    assert novelty(6, 10, 1) > novelty(3, 10, 1) > novelty(3, 10, 2) > novelty(3, 10, 5) > 0


# --------------------------------------------------------------------------- the index itself


def test_the_closest_earlier_article_wins_and_ties_go_to_the_earliest() -> None:
    index = StoryIndex(max_distance=4)
    index.add("a", 0b0000, T0)
    assert index.add("b", 0xFF << 8, T0).is_first  # another story, 8 bits from "a"
    match = index.add("c", 0xFE << 8, T0 + timedelta(hours=1))  # 7 bits from "a", 1 from "b"
    assert (match.story_key, match.similar_to, match.distance) == ("b", "b", 1)
    # "late" (published after "early", added first) and "early" are both 1 bit from the new one.
    index.add("late", 0b0111 << 40, T0 + timedelta(hours=5))
    index.add("early", 0b1011 << 40, T0 + timedelta(hours=2))
    tie = index.add("new", 0b0011 << 40, T0 + timedelta(hours=6))  # 2 bits from "a"
    assert (tie.similar_to, tie.distance, tie.story_key) == ("early", 1, "a")
    assert index.story_of("early") == "a" and index.story_size("a") == 4 and index.story_size("b") == 2
    assert len(index) == 6 and "late" in index and list(index)[0] == "a"


def test_window_counts_both_ways_and_from_the_closest_article() -> None:
    index = StoryIndex(window=timedelta(days=3))
    index.add("a", 7, T0)
    # Delivered late: published before "a", still within the window.
    assert index.add("b", 7, T0 - timedelta(days=2)).story_key == "a"
    # Five days after "a" but two after "c": chains through "c".
    assert index.add("c", 7, T0 + timedelta(days=3)).story_key == "a"
    assert index.add("d", 7, T0 + timedelta(days=5)).similar_to == "c"
    assert index.add("e", 7, T0 + timedelta(days=9)).is_first


def test_unsigned_fingerprints_equal_signed_ones() -> None:
    index = StoryIndex()
    index.add("a", -1, T0)
    assert index.add("b", 2**64 - 1, T0).distance == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"max_distance": -1}, "max_distance"), ({"max_distance": 64}, "max_distance"),
     ({"window": timedelta(0)}, "window")],
)  # fmt: skip
def test_bad_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StoryIndex(**kwargs)  # type: ignore[arg-type]


def test_bad_adds() -> None:
    index = StoryIndex()
    index.add("a", 1, T0)
    with pytest.raises(ValueError, match="already"):
        index.add("a", 1, T0)
    with pytest.raises(ValueError, match="already"):
        index.load([("a", "a", 1, T0)])
    with pytest.raises(ValueError, match="naive"):
        index.add("b", 1, datetime(2025, 2, 12))
    assert len(index) == 1


# A few base fingerprints far apart, and articles made from them by flipping a few bits:
# stories form, chain, and sometimes fall outside the threshold or the window.
_BASES = [0, -1, 0x5555_5555_5555_5555, 0x0F0F_0F0F_0F0F_0F0F]
_articles = st.lists(
    st.tuples(
        st.integers(0, len(_BASES) - 1),
        st.lists(st.integers(0, 63), max_size=6),
        st.integers(-6 * 24 * 60, 6 * 24 * 60),  # minutes from T0: up to six days either side
    ),
    min_size=1,
    max_size=40,
)


def _fingerprint(base: int, flips: list[int]) -> int:
    value = _BASES[base] % 2**64
    for bit in flips:
        value ^= 1 << bit
    return value - 2**64 if value >= 2**63 else value


@settings(max_examples=150, deadline=None)
@given(_articles, st.integers(0, 8))
def test_story_index_invariants(items: list[tuple[int, list[int], int]], max_distance: int) -> None:
    index = StoryIndex(max_distance=max_distance, window=timedelta(days=2))
    seen: dict[str, tuple[int, datetime]] = {}
    firsts: set[str] = set()
    for i, (base, flips, minutes) in enumerate(items):
        key, fingerprint, when = f"k{i}", _fingerprint(base, flips), T0 + timedelta(minutes=minutes)
        match = index.add(key, fingerprint, when)
        assert 0 <= match.novelty <= 100
        within_window = [p for p, t in seen.values() if abs(when - t) <= timedelta(days=2)]
        if match.is_first:
            firsts.add(key)
            assert match == StoryMatch(key, True, 100.0, None, None)
            assert all(hamming(fingerprint, p) > max_distance for p in within_window)
        else:
            assert match.similar_to in seen and match.distance is not None
            other_print, other_time = seen[match.similar_to]
            assert match.distance == hamming(fingerprint, other_print) <= max_distance
            assert abs(when - other_time) <= timedelta(days=2)
            assert match.story_key == index.story_of(match.similar_to)
            assert match.novelty < 100
            # nothing indexed is closer
            assert all(hamming(fingerprint, p) >= match.distance for p in within_window)
        assert match.story_key in firsts
        seen[key] = (fingerprint, when)
    assert len(index) == len(items)
    assert {index.story_of(k) for k in seen} <= firsts


@settings(max_examples=100, deadline=None)
@given(_articles, st.integers(0, 40), st.randoms(use_true_random=False))
def test_load_then_add_answers_like_one_process(
    items: list[tuple[int, list[int], int]], split: int, rng: random.Random
) -> None:
    rows = [(f"k{i}", _fingerprint(b, f), T0 + timedelta(minutes=m)) for i, (b, f, m) in enumerate(items)]
    split = min(split, len(rows))
    one = StoryIndex(max_distance=5)
    answers = [one.add(*row) for row in rows]

    stored = [(key, one.story_of(key), fingerprint, when) for key, fingerprint, when in rows[:split]]
    rng.shuffle(stored)  # the store returns rows in any order
    restarted = StoryIndex(max_distance=5)
    restarted.load(stored)
    assert len(restarted) == split
    assert [restarted.add(*row) for row in rows[split:]] == answers[split:]


# --------------------------------------------------------------------------- the benchmark script


def _bench_module():  # noqa: ANN202 - a module loaded from a path
    spec = importlib.util.spec_from_file_location("bench_dedup", ROOT / "benchmarks" / "bench_dedup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_pair_scores() -> None:
    bench = _bench_module()
    # truth: {0,1,2} {3}; found: {0,1} {2,3}: pairs found 2, true 3, both 1
    assert bench.pair_scores([0, 0, 0, 3], ["a", "a", "b", "b"]) == (0.5, 1 / 3)
    assert bench.pair_scores([0, 1], ["a", "b"]) == (1.0, 1.0)


def test_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert _bench_module().main(["--n", "600"]) == 0
    out = capsys.readouterr().out
    assert "600 synthetic articles" in out and "(b) simhashes" in out
    precision, recall = (float(x) for x in out.split("pairwise precision ")[1].split()[::2][:2])
    assert precision > 0.9 and recall > 0.8
