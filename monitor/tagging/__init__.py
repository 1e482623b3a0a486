"""Tagging: which instruments an article names, where, and how much it is about them.

Pure code: no store, no network. :func:`load_universe` reads the universe
(US listings, curated names, crypto, the user's watchlist); :class:`Tagger`
finds the mentions and scores the relevance.
"""

from monitor.tagging.matcher import AhoCorasickScanner, Lexicon, Tagger, TermScanner, find_mentions
from monitor.tagging.relevance import ArticleLayout, relevance
from monitor.tagging.universe import Term, TermKind, Universe, instrument_terms, load_universe, load_watchlist

__all__ = [
    "AhoCorasickScanner",
    "ArticleLayout",
    "Lexicon",
    "Tagger",
    "Term",
    "TermKind",
    "TermScanner",
    "Universe",
    "find_mentions",
    "instrument_terms",
    "load_universe",
    "load_watchlist",
    "relevance",
]
