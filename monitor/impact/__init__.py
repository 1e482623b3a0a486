"""Event-study maths: returns, abnormal returns, CARs and their statistics.

Pure numpy/pandas (scipy for p-values); no I/O.

* :mod:`monitor.impact.single`: one event of one instrument, as the pipeline
  measures it (:func:`event_study`), and the estudy2-style cross-section of
  many firms on one date (:func:`market_model_abnormal`,
  :func:`brown_warner_1985`).
* :mod:`monitor.impact.engine`: many events at once, vectorised: models
  (mean, market-adjusted, market, Fama-French 3), AR paths, CAR, BHAR, t,
  completeness, confounding, abnormal volume.
* :mod:`monitor.impact.battery`: the cross-event test battery (CAAR with the
  cross-sectional t, Brown-Warner 1985, Patell, Boehmer (BMP),
  Kolari-Pynnonen, Corrado rank, generalized sign).
"""

from monitor.impact.single import (
    DEFAULT_ESTIMATION,
    DEFAULT_MIN_OBS,
    DEFAULT_WINDOWS,
    MODELS,
    EventStudyResult,
    ModelFit,
    WindowResult,
    brown_warner_1985,
    event_study,
    market_model_abnormal,
    simple_returns,
    validate_returns,
)

__all__ = [
    "DEFAULT_ESTIMATION",
    "DEFAULT_MIN_OBS",
    "DEFAULT_WINDOWS",
    "MODELS",
    "EventStudyResult",
    "ModelFit",
    "WindowResult",
    "brown_warner_1985",
    "event_study",
    "market_model_abnormal",
    "simple_returns",
    "validate_returns",
]
