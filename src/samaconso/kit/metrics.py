"""Prometheus metrics shared by every domain (one registry per process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "samaconso_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "samaconso_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
OUTBOUND_CALLS = Counter(
    "samaconso_outbound_calls_total",
    "Calls to external systems, by target and outcome.",
    ["target", "outcome"],
    registry=REGISTRY,
)
CIRCUIT_OPEN = Gauge(
    "samaconso_circuit_open",
    "1 while the circuit breaker of an external system is open.",
    ["target"],
    registry=REGISTRY,
    multiprocess_mode="livemax",  # a worker: open in any of its live pool processes
)
CACHE_EVENTS = Counter(
    "samaconso_cache_events_total", "Cache hits, misses and errors.", ["event"], registry=REGISTRY
)
QUEUE_DEPTH = Gauge(
    "samaconso_queue_depth", "Messages waiting in each Celery queue.", ["queue"], registry=REGISTRY
)
CERT_DAYS_LEFT = Gauge(
    "samaconso_certificate_days_to_expiry",
    "Days before a client certificate expires.",
    ["name"],
    registry=REGISTRY,
)

# Push and SMS delivery (worker processes; served by the worker's endpoint, ``kit/worker_metrics``).
FCM_MESSAGES = Counter(
    "samaconso_fcm_messages_total",
    "Push messages to FCM by final outcome (sent, dead_token, failed).",
    ["outcome"],
    registry=REGISTRY,
)
FCM_RETRIES = Counter(
    "samaconso_fcm_retries_total",
    "FCM attempts to be retried (throttled, server error, network error).",
    ["reason"],
    registry=REGISTRY,
)
SMS_MESSAGES = Counter(
    "samaconso_sms_messages_total",
    "SMS handed to the gateway by backend and final outcome (sent, failed, unsealable).",
    ["backend", "outcome"],
    registry=REGISTRY,
)
SMS_RETRIES = Counter(
    "samaconso_sms_retries_total",
    "SMS attempts the gateway refused or did not answer, retried later.",
    ["backend"],
    registry=REGISTRY,
)
