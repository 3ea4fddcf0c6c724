"""`python -m ops.quiet MODULE ARGS` runs `python -m MODULE ARGS` without a wall of DeprecationWarnings.

Rasa's and rasa_sdk's dependencies switch DeprecationWarnings back on while they load (Sanic with
`filterwarnings("once", ...)`, aiogram with `simplefilter("default", ...)`), so `make run`
printed some twenty of them at start (distutils, pkg_resources, pyparsing, SQLAlchemy 2.0
notices, click): nothing an operator can act on, and enough to bury the lines that matter.
Filters set here would be overridden by theirs, so the deprecation categories are dropped where
warnings are shown. Every other warning (Rasa's UserWarnings about the configuration) still shows.
"""
from __future__ import annotations

import runpy
import sys
import warnings
from typing import Any

from bot import log_privacy

_show = warnings.showwarning


def _show_unless_deprecation(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    if not issubclass(category, (DeprecationWarning, PendingDeprecationWarning)):
        _show(message, category, *args, **kwargs)


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: python -m ops.quiet MODULE [ARGS...]")
    warnings.showwarning = _show_unless_deprecation
    log_privacy.install()  # both servers run through here: their logs carry no phones or e-mails
    sys.argv = argv  # what `python -m MODULE ARGS` would have given the module
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
