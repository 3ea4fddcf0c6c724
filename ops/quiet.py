"""`python -m ops.quiet MODULE ARGS` runs `python -m MODULE ARGS` without a wall of DeprecationWarnings.

Rasa's and rasa_sdk's dependencies switch DeprecationWarnings back on while they load (Sanic with
`filterwarnings("once", ...)`, aiogram with `simplefilter("default", ...)`), so `make run`
printed some twenty of them at start (distutils, pkg_resources, pyparsing, SQLAlchemy 2.0
notices, click): nothing an operator can act on, and enough to bury the lines that matter.
Filters set here would be overridden by theirs, so the deprecation categories are dropped where
warnings are shown. Every other warning (Rasa's UserWarnings about the configuration) still shows.

With several replicas writing to one terminal or one log collector, a line is only useful if it
says which replica wrote it: every log record of these processes starts with `[REPLICA_NAME]`.
"""
from __future__ import annotations
import logging
import runpy
import sys
import warnings
from typing import Any, Callable

from bot import config, log_privacy

_show = warnings.showwarning


def _show_unless_deprecation(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    if not issubclass(category, (DeprecationWarning, PendingDeprecationWarning)):
        _show(message, category, *args, **kwargs)


def tag_replica(name: str | None = None) -> None:
    """Prefixes every log record's message with `[name]`, whatever handler or format shows it.

    Chains the current record factory (log_privacy's mask stays in front of every handler) and
    keeps its marks, so installing the mask again does not wrap twice. Calling it twice: once.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "_unisono_replica", False):
        return
    tag = f"[{name or config.replica_name()}] "

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        prefix = tag.replace("%", "%%") if record.args else tag  # the message is a format string
        record.msg = prefix + str(record.msg)
        return record

    marked: Callable[..., logging.LogRecord] = factory
    if getattr(current, "_unisono_masks", False):  # log_privacy.install() must see it is in place
        setattr(marked, "_unisono_masks", True)
    setattr(marked, "_unisono_replica", True)
    logging.setLogRecordFactory(marked)


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: python -m ops.quiet MODULE [ARGS...]")
    warnings.showwarning = _show_unless_deprecation
    log_privacy.install()  # both servers run through here: their logs carry no phones or e-mails
    tag_replica()  # ... and say which replica wrote them
    sys.argv = argv  # what `python -m MODULE ARGS` would have given the module
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
