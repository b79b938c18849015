"""Logs: structured JSON (structlog, the default) with the request id on every line and secrets
scrubbed; or, for people watching ``samaconso run``, one short human line per event.

Periodic tasks (the outbox relay every 5 s, the dashboard refresh…) run quietly in both formats:
their "received"/"succeeded" lines, the scheduler's "Sending due task" and their own INFO events are
written only at DEBUG. Their failures and warnings are always written.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Collection, Mapping, MutableMapping
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


_PERIODIC_LOGGERS = ("celery.app.trace", "celery.worker.strategy")


class PeriodicTaskFilter(logging.Filter):
    """Drops the routine INFO lines of periodic tasks unless the level is DEBUG.

    ``periodic_tasks`` returns the task names the scheduler runs (read at each record: domains
    declare their schedule entries after logging is set up); ``current_task`` the name of the task
    this process is running, if any.
    """

    def __init__(
        self,
        periodic_tasks: Callable[[], Collection[str]],
        current_task: Callable[[], str | None],
        debug: bool,
    ) -> None:
        super().__init__()
        self.periodic_tasks = periodic_tasks
        self.current_task = current_task
        self.debug = debug

    def routine(self) -> bool:
        """Whether the code running now is a periodic task (its INFO lines are not written)."""
        return not self.debug and self.current_task() in self.periodic_tasks()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.debug or record.levelno != logging.INFO:
            return True
        if record.name == "celery.beat":
            return not str(record.msg).startswith("Scheduler: Sending due task")
        if record.name in _PERIODIC_LOGGERS and isinstance(record.args, Mapping):
            return record.args.get("name") not in self.periodic_tasks()
        return not self.routine()

    def processor(
        self, _: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """The same rule for structlog events (they do not go through the logging handlers)."""
        if method == "info" and self.routine():
            raise structlog.DropEvent
        return event_dict


def _no_periodic_tasks() -> Collection[str]:
    return ()


def _no_task() -> str | None:
    return None


_ANSI = {"reset": "\x1b[0m", "dim": "\x1b[2m", "bold": "\x1b[1m", "warning": "\x1b[33m", "error": "\x1b[31m"}
_HIDDEN_IN_HUMAN_LINES = ("timestamp", "level", "process", "event", "exception", "logger", "request_id")


def use_colors(stream: Any) -> bool:
    """ANSI colours only on a terminal, and never when ``NO_COLOR`` is set (no-color.org)."""
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")


class HumanRenderer:
    """``08:01:02 worker  WARNING outbox_publish_failed error=TimeoutError pending=3``

    Time of day (UTC), the process, the level only when above INFO, the event, then its fields.
    """

    def __init__(self, colors: Callable[[], bool] = lambda: use_colors(sys.stderr)) -> None:
        self.colors = colors

    def __call__(self, _: Any, __: str, event_dict: MutableMapping[str, Any]) -> str:
        color = self.colors()

        def paint(text: str, style: str) -> str:
            return f"{_ANSI[style]}{text}{_ANSI['reset']}" if color else text

        stamp = str(event_dict.get("timestamp", ""))
        clock = stamp[11:19] if len(stamp) >= 19 else stamp
        level = str(event_dict.get("level", "info")).lower()
        parts = [paint(clock, "dim"), f"{event_dict.get('process', '')!s:<8}"]
        if level in ("warning", "error", "critical", "exception"):
            parts.append(paint(level.upper(), "error" if level != "warning" else "warning"))
        parts.append(str(event_dict.get("event", "")))
        for key, value in event_dict.items():
            if key in _HIDDEN_IN_HUMAN_LINES:
                continue
            text = value if isinstance(value, str) else repr(value)
            if len(text) > 120:
                text = text[:117] + "..."
            parts.append(f"{key}={text}" if " " not in text else f"{key}={text!r}")
        line = " ".join(parts)
        if event_dict.get("exception"):
            line += "\n" + str(event_dict["exception"])
        return line


# In the human format, the start-up chatter of the servers is left out: ``samaconso run`` says
# itself when each part is ready. Warnings and errors from them still show.
_QUIET_FOR_PEOPLE = ("uvicorn.error", "celery")
_TASK_LINES = ("celery.app.trace",)


def configure_logging(
    level: str = "INFO",
    json: bool = True,
    process: str = "api",
    *,
    periodic_tasks: Callable[[], Collection[str]] = _no_periodic_tasks,
    current_task: Callable[[], str | None] = _no_task,
) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        scrub_processor,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else HumanRenderer()
    debug = logging.getLevelName(level.upper()) <= logging.DEBUG
    periodic = PeriodicTaskFilter(periodic_tasks, current_task, debug)
    structlog.configure(
        processors=[periodic.processor, *shared, structlog.processors.format_exc_info, renderer],
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
    handler.addFilter(periodic)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for quiet in ("httpx", "httpcore", "botocore", "urllib3"):
        logging.getLogger(quiet).setLevel(logging.WARNING)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).handlers = []
        logging.getLogger(noisy).propagate = False
    for name in _QUIET_FOR_PEOPLE:
        logging.getLogger(name).setLevel(logging.NOTSET if json or debug else logging.WARNING)
    for name in _TASK_LINES:  # "succeeded"/failure lines of the tasks people's actions caused
        logging.getLogger(name).setLevel(logging.NOTSET if json or debug else level.upper())
    structlog.contextvars.bind_contextvars(process=process)
