"""Log lines: one format for the service's own and uvicorn's, each carrying its request's id.

`configure_logging` is called by create_app and by the CLI; it may run again (tests, uvicorn's
reloader), replacing the handler it installed before and nothing else.
"""

import logging
import re
import sys
from typing import TextIO

from asgi_correlation_id import correlation_id
from asgi_correlation_id.middleware import FAILED_VALIDATION_MESSAGE
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from app.core.config import Settings

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is kept when it is a plain token (a UUID, a trace id, a proxy's $request_id); any
# other value gets a new id, so that no line break or markup reaches a log line through it.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
NO_REQUEST = "-"

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "{levelname}{name}{request_id}{message}"
# uvicorn and its access log write their lines through these; they would otherwise print in
# their own format with their own handlers.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
HANDLER_NAME = "pdi"
# Alembic announces each of its plugins at every start: noise before `pdi migrate`'s own lines.
# httpx logs every request's URL at INFO: a webhook's path and query may carry its receiver's token.
QUIET_LOGGERS = ("alembic.runtime.plugins", "httpx", "httpcore")


def is_sane_request_id(value: str) -> bool:
    return SANE_REQUEST_ID.fullmatch(value) is not None


class RequestIdFilter(logging.Filter):
    """Stamps every record with the id of the request being served (`-` outside any request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = correlation_id.get() or _replacement_id(record) or NO_REQUEST
        return True


def _replacement_id(record: logging.LogRecord) -> str | None:
    """The id given in place of an invalid incoming one: asgi-correlation-id warns of it before it
    sets the request's id, so the line names its request by the new id it announces."""
    if record.msg == FAILED_VALIDATION_MESSAGE and isinstance(record.args, tuple) and record.args:
        return str(record.args[0])
    return None


class CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a line is written: test runners and click's
    CliRunner swap it, and a handler holding the old one would write to a closed stream."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Send every log line (the service's, uvicorn's and its access log) to `stream` (stderr),
    as text or as one JSON object per line (`PDI_LOG_FORMAT`)."""
    handler = logging.StreamHandler(stream) if stream else CurrentStderrHandler()
    handler.set_name(HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(_json_formatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))

    root = logging.getLogger()
    for installed_before in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(installed_before)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _json_formatter() -> logging.Formatter:
    return JsonFormatter(
        JSON_FIELDS,
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",  # ISO 8601 in UTC, with milliseconds
        # uvicorn adds a copy of its message with terminal colour codes: useless in JSON.
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        json_ensure_ascii=False,
    )
