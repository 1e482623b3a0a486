"""The monitor's exception tree.

Every error a user can cause or meet derives from :class:`MonitorError`. Its
message says what was wrong and what to do; the CLI prints it on one line and
exits non-zero, without a traceback.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base class of every error the monitor raises on purpose."""

    exit_code = 1


class ConfigError(MonitorError):
    """A setting, the settings file or the watchlist is missing or invalid."""

    exit_code = 2


class StoreError(MonitorError):
    """The database cannot be reached, opened or migrated."""

    exit_code = 3


class SourceError(MonitorError):
    """A news source could not be read (unreadable file, broken feed, HTTP error)."""


class UndatedArticleError(SourceError):
    """An article carries no publication date the monitor can place in time."""


class CalendarError(MonitorError):
    """A timestamp cannot be mapped to a trading session of the instrument's calendar."""


class PriceError(MonitorError):
    """Base class of price-source failures."""


class NoPriceDataError(PriceError):
    """The price source returned no bars for a symbol and range (unknown, delisted or empty)."""


class RateLimitedError(PriceError):
    """The price source refused the request for too many requests; nothing was written."""


class PriceSourceUnavailableError(PriceError):
    """The price source cannot be reached at all (no network, DNS, refused): a pass stops, nothing is written."""

    exit_code = 4


class DataValidationError(MonitorError):
    """A frame crossing a stage boundary does not follow its documented contract."""


class MaxLossExceededError(MonitorError):
    """A stage dropped more rows than its allowed share."""
