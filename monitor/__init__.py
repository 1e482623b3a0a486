"""Market-impact monitor: links news to tickers and measures the market's reaction."""

__version__ = "0.1.0"
