"""Tagging: which instruments an article names, where, and how much it is about them.

Pure code: no store, no network.
"""

from monitor.tagging.matcher import RegexTermScanner, TermScanner, WatchlistTagger, find_mentions
from monitor.tagging.relevance import ArticleLayout, relevance
from monitor.tagging.universe import Term, TermKind, instrument_terms, load_watchlist

__all__ = [
    "ArticleLayout",
    "RegexTermScanner",
    "Term",
    "TermKind",
    "TermScanner",
    "WatchlistTagger",
    "find_mentions",
    "instrument_terms",
    "load_watchlist",
    "relevance",
]
