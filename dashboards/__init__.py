"""The web dashboard of the market-impact monitor (Plotly Dash): ``monitor dashboard``.

It reads the store only (:mod:`dashboards.queries`) and draws with the figure
builders the digest uses (:mod:`monitor.figures`); :func:`dashboards.app.create_app`
builds the app, :func:`dashboards.app.serve` runs it.
"""
