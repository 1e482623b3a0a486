"""Build ``seeds/universe/listed.csv``, the US-listed part of the tagger's universe.

Reads the SEC's ticker list with exchanges
(``$MONITOR_REFERENCE_DATA/universe/company_tickers_exchange.json``, plus the
few tickers only the list without exchanges has, ``company_tickers.json``), turns
each registry title into the names news uses (:func:`monitor.tagging.names.news_names`)
and marks the words that need care, from an English word list (Debian's
``wamerican``, ``/usr/share/dict/words``):

- a ticker that is an English word or has at most two letters ("ALL", "ON",
  "GEO") is ambiguous: on its own it counts only near the company's name;
- a one-word name that is an English word ("Apple", "Target") needs context, and so
  does one the list knows as a proper noun (a place, a first name) outside the
  largest companies ("Berkeley", "Tim"), and a short form it knows as one
  ("Edison" of "Edison International");
- a one-word short form ("Palantir" of "Palantir Technologies") is kept for
  the largest companies unless the list knows it as a proper noun ("American"
  of "American International Group"), and for the others only when the list
  does not know it at all; "Amazon" of "Amazon.com" is always kept; a short
  form of several common words is dropped when it starts with a place or an
  adjective of :data:`GEOGRAPHIC_WORDS` or joins words with "and" or "&"
  ("American International", "Transportation & Logistics"; "Lamb Weston",
  "Hertz Global" stay).

Rows keep the SEC's order (largest companies first), which breaks ties when two
issuers share a name. The first ticker of an issuer (CIK) carries its names;
its other lines (share classes, preferreds, warrants, units) are ``secondary``.

    MONITOR_REFERENCE_DATA=../shared/data python scripts/build_universe.py

``MONITOR_UNIVERSE_OUT`` writes elsewhere (the tests compare a fresh build with
the bundled file).
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.tagging.names import GEOGRAPHIC_WORDS, news_names  # noqa: E402

OUT = Path(os.environ.get("MONITOR_UNIVERSE_OUT") or Path(__file__).resolve().parent.parent / "seeds" / "universe" / "listed.csv")
WORDS = Path("/usr/share/dict/words")

HEADER = """\
# US-listed companies and funds with the names news uses for them.
# Tickers, issuers (SEC CIK) and exchanges as listed by the SEC (company_tickers_exchange and company_tickers, January 2025);
# names normalised by monitor.tagging.names; ambiguity marks from an English word list.
# Built by scripts/build_universe.py. Columns:
#   symbol      Yahoo Finance symbol (class shares with a dash: BRK-B)
#   cik         SEC issuer number
#   exchange    Nasdaq | NYSE | OTC | CBOE | empty
#   asset_class equity | etf
#   name        the name news uses; aliases: other forms, separated by |
#   context     names (of name and aliases) that are English words and need context, separated by |
#   flags       secondary: another line of an issuer listed above (no names of its own);
#               word_ticker: the ticker alone is ambiguous (a word, or one or two letters)
"""


#: Below this rank (SEC order, largest first), a one-word name that the word list knows as a
#: proper noun (a place, a first name: "Berkeley", "Tim") also needs context; above it such
#: names ("Boeing", "Pfizer") are the companies themselves.
PROPER_NOUN_RANK = 1000


def word_lists(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    """The word list's lower-case entries (common words) and capitalised ones (proper nouns)."""
    if not path.is_file():
        sys.exit(f"word list {path} not found: install Debian's wamerican package")
    words = [w for w in path.read_text(encoding="utf-8").split() if "'" not in w]
    return frozenset(w for w in words if w.islower()), frozenset(w for w in words if w[:1].isupper())


def asset_class(title: str) -> str:
    upper = title.upper()
    return "etf" if " ETF" in upper or "SPDR" in upper or "ISHARES" in upper or "QQQ" in upper else "equity"


def main() -> int:
    root = os.environ.get("MONITOR_REFERENCE_DATA")
    if not root:
        print("set MONITOR_REFERENCE_DATA to the reference data folder", file=sys.stderr)
        return 2
    folder = Path(root) / "universe"
    document = json.loads((folder / "company_tickers_exchange.json").read_text(encoding="utf-8"))
    fields = document["fields"]
    records = [dict(zip(fields, record, strict=True)) for record in document["data"]]
    # The list without exchanges has a few tickers the other lacks: they join at the end, exchange unknown.
    listed = {str(row["ticker"]).strip().upper() for row in records}
    plain = json.loads((folder / "company_tickers.json").read_text(encoding="utf-8"))
    records += [
        {"cik": entry["cik_str"], "name": entry["title"], "ticker": entry["ticker"], "exchange": None}
        for entry in plain.values()
        if str(entry["ticker"]).strip().upper() not in listed
    ]
    words, proper = word_lists(WORDS)
    seen_cik: set[int] = set()
    seen_symbol: set[str] = set()
    rows = []
    for row in records:
        symbol = str(row["ticker"]).strip().upper()
        if not symbol or symbol in seen_symbol:
            continue
        seen_symbol.add(symbol)
        cik = int(row["cik"])
        title = str(row["name"] or "")
        names = news_names(title, symbol)
        flags = []
        if cik in seen_cik:
            flags.append("secondary")
        seen_cik.add(cik)
        base = symbol.split("-")[0]
        if len(base) <= 2 or base.lower() in words:
            flags.append("word_ticker")
        # A one-word short form ("Palantir" of "Palantir Technologies") only when no dictionary knows it:
        # "American" of "American International Group" or "Micron" would name other things.
        rank = len(rows)
        large = rank < PROPER_NOUN_RANK
        def keep(alias: str) -> bool:
            if names.name == f"{alias}.com":
                return True
            if " " in alias:
                parts = alias.split()
                generic = all(w.lower() in words or w in GEOGRAPHIC_WORDS or not w.isalpha() for w in parts)
                return not (generic and (parts[0] in GEOGRAPHIC_WORDS or any(not w.isalpha() or w == "and" for w in parts)))
            if large:
                return alias not in GEOGRAPHIC_WORDS
            return alias.lower() not in words and alias not in proper

        aliases = [alias for alias in names.aliases if keep(alias)]
        context = [
            form
            for form in [names.name, *aliases]
            if form
            and " " not in form
            and (
                form.lower() in words
                or form in GEOGRAPHIC_WORDS
                or (form in proper and (not large or len(form) <= 3 or form != names.name))
            )
        ]
        rows.append(
            [
                symbol,
                cik,
                row.get("exchange") or "",
                asset_class(title),
                names.name,
                "|".join(aliases),
                "|".join(context),
                " ".join(flags),
            ]
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["symbol", "cik", "exchange", "asset_class", "name", "aliases", "context", "flags"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} instruments to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
