"""Structured JSON logs (structlog) with the request id on every line and secrets scrubbed."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Keys whose values are never written, whatever their nesting.
SENSITIVE_KEYS = re.compile(
    r"(pin|password|passwd|secret|otp|code_otp|token|authorization|cookie|api_key|private_key|passphrase)",
    re.IGNORECASE,
)
# Long digit runs or JWT-looking strings inside free text are masked too.
_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")
REDACTED = "[redacted]"


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 5:
        return value
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and SENSITIVE_KEYS.search(k) else _scrub(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v, depth + 1) for v in value]
    if isinstance(value, str):
        return _JWT.sub(REDACTED, value)
    return value


def scrub_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict.keys()):
        if key != "event" and SENSITIVE_KEYS.search(key) and key not in ("request_id",):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


def _stderr_logger(*_: Any) -> structlog.PrintLogger:
    # Resolve sys.stderr at each call so redirected streams (tests, daemons) receive the lines.
    return structlog.PrintLogger(sys.stderr)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure_logging(level: str = "INFO", json: bool = True, process: str = "api") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        scrub_processor,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    # Route the standard library (uvicorn, celery, sqlalchemy) through the same renderer.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for quiet in ("httpx", "httpcore", "botocore", "urllib3"):
        logging.getLogger(quiet).setLevel(logging.WARNING)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).handlers = []
        logging.getLogger(noisy).propagate = False
    structlog.contextvars.bind_contextvars(process=process)
