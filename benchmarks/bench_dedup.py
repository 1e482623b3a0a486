"""Benchmark of near-duplicate grouping against exact deduplication.

Generates a seeded set of synthetic finance articles (template wire stories
about a few dozen companies; about 15 % near duplicates made by small edits
of earlier articles, about 3 % exact copies), then measures in one process:

(a) the baseline: :func:`~monitor.models.normalise_text` and SHA-256 of every
    text, the cost of exact deduplication by content hash;
(b) :func:`~monitor.news.dedup.simhashes` of every text;
(c) grouping every article with :meth:`~monitor.news.dedup.StoryIndex.add`
    in publication order.

It prints the seconds and items per second of each step, the ratio of
near-duplicate work (b + c) to the baseline, whether fingerprinting and
grouping stayed under the 5-second target for 20,000 articles, and the
pairwise precision and recall of the stories found against the generated
truth (a pair of articles is "same story" when one was derived from the
other). Run from the repository root::

    python benchmarks/bench_dedup.py [--n 20000] [--seed 7]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.models import TEXT_SEPARATOR, normalise_text  # noqa: E402
from monitor.news.dedup import StoryIndex, hamming, simhashes  # noqa: E402

#: Seconds allowed for fingerprinting and grouping 20,000 articles on one core.
TARGET_SECONDS = 5.0
TARGET_N = 20_000

COMPANIES = [
    ("CoreCivic", "CXW", "Brentwood, Tennessee"), ("GEO Group", "GEO", "Boca Raton, Florida"),
    ("Tesla", "TSLA", "Austin, Texas"), ("Apple", "AAPL", "Cupertino, California"),
    ("Allstate", "ALL", "Northbrook, Illinois"), ("Gartner", "IT", "Stamford, Connecticut"),
    ("Caterpillar", "CAT", "Irving, Texas"), ("ServiceNow", "NOW", "Santa Clara, California"),
    ("Agilent Technologies", "A", "Santa Clara, California"), ("onsemi", "ON", "Scottsdale, Arizona"),
    ("Nvidia", "NVDA", "Santa Clara, California"), ("Microsoft", "MSFT", "Redmond, Washington"),
    ("Exxon Mobil", "XOM", "Spring, Texas"), ("Chevron", "CVX", "Houston, Texas"),
    ("JPMorgan Chase", "JPM", "New York"), ("Goldman Sachs", "GS", "New York"),
    ("Boeing", "BA", "Arlington, Virginia"), ("Pfizer", "PFE", "New York"),
    ("Moderna", "MRNA", "Cambridge, Massachusetts"), ("Walmart", "WMT", "Bentonville, Arkansas"),
    ("Target", "TGT", "Minneapolis"), ("Ford Motor", "F", "Dearborn, Michigan"),
    ("General Motors", "GM", "Detroit"), ("Intel", "INTC", "Santa Clara, California"),
    ("Advanced Micro Devices", "AMD", "Santa Clara, California"), ("Netflix", "NFLX", "Los Gatos, California"),
    ("Walt Disney", "DIS", "Burbank, California"), ("Nike", "NKE", "Beaverton, Oregon"),
    ("Starbucks", "SBUX", "Seattle"), ("McDonald's", "MCD", "Chicago"),
    ("Delta Air Lines", "DAL", "Atlanta"), ("United Airlines", "UAL", "Chicago"),
    ("Coinbase", "COIN", "New York"), ("MicroStrategy", "MSTR", "Tysons Corner, Virginia"),
    ("Palantir", "PLTR", "Denver"), ("Occidental Petroleum", "OXY", "Houston, Texas"),
    ("UnitedHealth", "UNH", "Minnetonka, Minnesota"), ("CVS Health", "CVS", "Woonsocket, Rhode Island"),
    ("Lockheed Martin", "LMT", "Bethesda, Maryland"), ("Deere", "DE", "Moline, Illinois"),
]  # fmt: skip
ANALYSTS = ["LSEG", "FactSet", "Visible Alpha", "Zacks", "Bloomberg"]
FIRMS = ["Morgan Stanley", "Jefferies", "Barclays", "Wells Fargo", "UBS", "Citi", "Bernstein", "Evercore ISI"]
REPORTERS = ["Jane Doe", "Arasu Kannagi Basil", "Noel Randewich", "Echo Wang", "Ross Kerber", "Juby Babu"]
CITIES = ["Bengaluru", "New York", "Gdansk", "London", "Toronto"]
TOPICS = [
    "federal contracts", "data center demand", "pricing pressure", "supply chain costs", "tariffs",
    "consumer spending", "interest rates", "a product recall", "a labor strike", "regulatory scrutiny",
    "a cyberattack", "an activist investor", "a share buyback", "a debt offering", "a management shake-up",
]
PRODUCTS = ["software subscriptions", "detention services", "electric vehicles", "insurance premiums",
            "chips", "streaming plans", "jet fuel", "vaccines", "loans", "heavy equipment"]  # fmt: skip
UP = ["rose", "jumped", "climbed", "gained", "advanced", "surged"]
DOWN = ["fell", "dropped", "slid", "declined", "tumbled", "sank"]
TITLES = [
    "{co} beats quarterly profit estimates on {topic}",
    "{co} shares {move} after {firm} {rating} the stock",
    "{co} cuts annual forecast, citing {topic}",
    "{co} to buy {co2} in ${amount} billion deal",
    "{co} names new chief financial officer amid {topic}",
    "{co} wins ${amount} billion contract tied to {topic}",
    "{co} misses revenue estimates as {product} demand cools",
    "{co} announces ${amount} billion buyback, raises dividend",
    "{co} faces probe over {topic}, shares {move}",
    "{co} sees {quarter} sales above estimates on strong {product}",
]
SENTENCES = [
    "{co} reported adjusted earnings of {cents} cents per share, compared with analysts' average estimate of "
    "{cents2} cents, according to data compiled by {analyst}.",
    "Revenue {move} {pct}% to ${amount} billion in the {quarter}, the {city_co}-based company said.",
    "Shares of the company {move} {pct}% in {session} trading on {day}.",
    "The company said it expects full-year adjusted earnings between ${eps} and ${eps2} per share.",
    "{firm} analysts {rating} the stock, citing {topic} and the outlook for {product}.",
    "{co} said it would spend about ${amount} billion on {product} over the next {years} years.",
    "Chief Executive {person} told analysts on a conference call that {topic} weighed on demand for {product}.",
    "The deal, expected to close in the {quarter}, values {co2} at about ${amount} billion including debt.",
    "{co} also announced a ${amount} billion share repurchase program and raised its quarterly dividend by {pct}%.",
    "The stock has {move} about {pct2}% so far this year, compared with a {pct}% move in the S&P 500 index.",
    "{co} shares were trading at {pe} times forward earnings, against {pe2} for rival {co2}, per {analyst} data.",
    "The results come as investors weigh {topic} and its effect on {product} across the industry.",
    "{co} said {topic} would reduce {quarter} operating margin by about {pct} percentage points.",
    "Regulators in {city} opened an inquiry into the company's handling of {topic}, a person familiar said.",
    "{co} cut about {jobs} jobs, or {pct}% of its workforce, in a restructuring announced on {day}.",
    "Demand for {product} {move} {pct2}% from a year earlier, beating the {pct}% increase analysts expected.",
    "{co2} declined to comment on whether it had held talks with {co} about {topic}.",
    "The company's net debt stood at ${amount} billion at the end of the quarter, down from ${amount2} billion.",
    "Options traders positioned for a {pct}% move in either direction after the report, {firm} said.",
    "{co} ended the quarter with ${amount} billion in cash and short-term investments.",
]
PEOPLE = ["Damon Hininger", "Patrick Swindle", "George Zoley", "Elon Musk", "Tim Cook", "Mary Barra",
          "Jensen Huang", "Satya Nadella", "Andy Jassy", "Lisa Su", "Jane Fraser", "David Solomon"]  # fmt: skip
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
QUARTERS = ["first quarter", "second quarter", "third quarter", "fourth quarter"]
BOILERPLATE = [
    "Read more: {co} shares slide as investors weigh {topic} https://www.example.com/markets/{ticker}",
    "Share this article: Facebook | X | LinkedIn | Email",
    "(Reporting by {person} in {city}; Editing by {person2})",
    "Copyright 2025 Example Wire. All rights reserved.",
    "Related: {co2} stock outlook for {quarter}",
]


@dataclass
class Synthetic:
    key: str
    text: str
    published_at: datetime
    story: int  #: index of the original article this one derives from (truth)
    kind: str  #: "original", "near", "copy"


def _fill(template: str, rng: random.Random, co: tuple[str, str, str]) -> str:
    co2 = rng.choice([c for c in COMPANIES if c is not co])
    return template.format(
        co=co[0], ticker=co[1], city_co=co[2].split(",")[0], co2=co2[0], topic=rng.choice(TOPICS),
        product=rng.choice(PRODUCTS), move=rng.choice(UP + DOWN), firm=rng.choice(FIRMS),
        rating=rng.choice(["upgraded", "downgraded", "raised their price target on", "initiated coverage of"]),
        amount=f"{rng.uniform(0.1, 40):.1f}", amount2=f"{rng.uniform(0.1, 40):.1f}", pct=rng.randint(1, 19),
        pct2=rng.randint(2, 60), cents=rng.randint(5, 400), cents2=rng.randint(5, 400),
        eps=f"{rng.uniform(0.5, 9):.2f}", eps2=f"{rng.uniform(0.5, 9):.2f}", analyst=rng.choice(ANALYSTS),
        quarter=rng.choice(QUARTERS), session=rng.choice(["extended", "premarket", "morning", "afternoon"]),
        day=rng.choice(DAYS), years=rng.randint(2, 10), person=rng.choice(PEOPLE), person2=rng.choice(REPORTERS),
        city=rng.choice(CITIES), pe=rng.randint(8, 60), pe2=rng.randint(8, 60), jobs=rng.randint(2, 90) * 100,
    )  # fmt: skip


def _original(rng: random.Random, start: datetime) -> tuple[str, str]:
    co = rng.choice(COMPANIES)
    title = _fill(rng.choice(TITLES), rng, co)
    sentences = [_fill(s, rng, co) for s in rng.sample(SENTENCES, rng.randint(5, 9))]
    dateline = f"{start:%b} {start.day} (Example Wire) - "
    cut = rng.randint(2, len(sentences) - 2)
    body = dateline + " ".join(sentences[:cut]) + "\n\n" + " ".join(sentences[cut:])
    return title, body


def _near_copy(title: str, body: str, rng: random.Random) -> str:
    """One to three small edits a republisher makes."""
    co = rng.choice(COMPANIES)
    edits = rng.sample(["headline", "byline", "boilerplate", "word", "sentence", "credits"], rng.randint(1, 3))
    if "headline" in edits:
        words = title.split()
        words[rng.randrange(len(words))] = rng.choice(["Update", "Exclusive", "Stocks", "Markets", "Breaking"])
        title = " ".join(words)
    if "word" in edits:
        words = body.split(" ")
        i = rng.randrange(len(words))
        words[i] = rng.choice(["reportedly", "roughly", "nearly", "about", "some"])
        body = " ".join(words)
    if "sentence" in edits:
        body = body + " " + _fill("Shares of {co} were last {move} {pct}% at midday.", rng, co)
    if "byline" in edits:
        body = f"By {rng.choice(REPORTERS)}\n\n" + body
    if "boilerplate" in edits:
        body = body + "\n\n" + _fill(rng.choice(BOILERPLATE), rng, co)
    if "credits" in edits:
        body = body + "\n\n" + _fill(BOILERPLATE[2], rng, co)
    return title + TEXT_SEPARATOR + body


def generate(n: int, seed: int) -> list[Synthetic]:
    """``n`` articles in publication order, about 250 a day, with their true stories."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    span = timedelta(days=max(n / 250, 1))
    items: list[Synthetic] = []
    originals: list[tuple[int, str, str, datetime]] = []
    for i in range(n):
        roll = rng.random()
        if originals and roll < 0.18:
            story, title, body, when = rng.choice(originals)
            published = when + timedelta(minutes=rng.randint(1, 36 * 60))
            if roll < 0.03:
                text, kind = title + TEXT_SEPARATOR + body, "copy"
            else:
                text, kind = _near_copy(title, body, rng), "near"
            items.append(Synthetic(f"a{i:06d}", text, published, story, kind))
        else:
            published = start + span * rng.random()
            title, body = _original(rng, published)
            originals.append((i, title, body, published))
            items.append(Synthetic(f"a{i:06d}", title + TEXT_SEPARATOR + body, published, i, "original"))
    items.sort(key=lambda a: (a.published_at, a.key))
    return items


def _pairs(labels: list[object]) -> int:
    return sum(c * (c - 1) // 2 for c in Counter(labels).values())


def pair_scores(truth: list[int], found: list[str]) -> tuple[float, float]:
    """Pairwise precision and recall of ``found`` stories against ``truth`` stories."""
    both = _pairs(list(zip(truth, found, strict=True)))
    predicted, actual = _pairs(list(found)), _pairs(list(truth))
    return (both / predicted if predicted else 1.0), (both / actual if actual else 1.0)


def _timed(label: str, n: int, seconds: float) -> None:
    print(f"{label:<44} {seconds:8.3f} s  {n / seconds:>12,.0f} items/s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=TARGET_N, help="articles to generate (default 20000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    args = parser.parse_args(argv)

    items = generate(args.n, args.seed)
    texts = [a.text for a in items]
    kinds = Counter(a.kind for a in items)
    print(
        f"{len(items):,} synthetic articles: {kinds['original']:,} originals, "
        f"{kinds['near']:,} near duplicates, {kinds['copy']:,} exact copies"
    )

    t0 = time.perf_counter()
    digests = {hashlib.sha256(normalise_text(t).encode("utf-8")).hexdigest() for t in texts}
    baseline = time.perf_counter() - t0

    t0 = time.perf_counter()
    prints = simhashes(texts)
    fingerprinting = time.perf_counter() - t0

    t0 = time.perf_counter()
    index = StoryIndex()
    matches = [index.add(a.key, int(f), a.published_at) for a, f in zip(items, prints, strict=True)]
    grouping = time.perf_counter() - t0

    near_work = fingerprinting + grouping
    _timed("(a) baseline: normalise_text + sha256", len(texts), baseline)
    _timed("(b) simhashes", len(texts), fingerprinting)
    _timed(f"(c) StoryIndex.add (max_distance={index.max_distance})", len(texts), grouping)
    _timed("(b+c) fingerprint + grouping", len(texts), near_work)
    print(f"ratio (b+c) / (a): {near_work / baseline:.1f}x   (b) / (a): {fingerprinting / baseline:.1f}x")
    budget = TARGET_SECONDS * len(texts) / TARGET_N
    verdict = "met" if near_work < budget else "NOT met"
    print(f"target: {TARGET_SECONDS:.0f} s per {TARGET_N:,} articles ({budget:.2f} s for {len(texts):,}): {verdict}")

    stories = len({m.story_key for m in matches})
    truth = [a.story for a in items]
    precision, recall = pair_scores(truth, [m.story_key for m in matches])
    print(
        f"exact: {len(digests):,} distinct texts   stories found: {stories:,} "
        f"(true: {len(set(truth)):,})"
    )
    print(f"pairwise precision {precision:.4f}   recall {recall:.4f}")

    fingerprint_of = {a.key: int(f) for a, f in zip(items, prints, strict=True)}
    derived = Counter(
        min(hamming(fingerprint_of[a.key], fingerprint_of[f"a{a.story:06d}"]), 16)
        for a in items
        if a.kind != "original"
    )
    print("bits between a derived article and its original (16 = 16 or more):", dict(sorted(derived.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
