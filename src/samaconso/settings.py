"""One settings class for every process (API, workers, CLI).

Values come from the environment (prefix ``SAMACONSO_``), from a ``.env`` file, or from one file per
secret in ``SAMACONSO_SECRETS_DIR`` (Docker/Kubernetes secrets: the file is named like the variable,
e.g. ``samaconso_jwt_secret``).
The ``embedded`` profile (default) runs everything on this machine with throw-away secrets; the
``production`` profile refuses to start while a secret is missing, default or weak.
"""

from __future__ import annotations

import os
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Profile = Literal["embedded", "production", "test"]

# Values that must never reach production: shipped defaults and well-known weak passwords.
WEAK_SECRETS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "secret",
        "password",
        "admin",
        "guest",
        "minioadmin",
        "postgres",
        "samaconso",
        "embedded-insecure-secret-do-not-use-in-production",
    }
)
EMBEDDED_SECRET = "embedded-insecure-secret-do-not-use-in-production"  # noqa: S105 - refused in production
MIN_SIGNING_KEY_BYTES = 32
MIN_PASSWORD_CHARS = 12
MAX_ACCESS_TOKEN_TTL_S = 3600
MAX_REFRESH_TOKEN_TTL_S = 90 * 86400
MAX_PIN_FAILURES = 10
MAX_OTP_ATTEMPTS = 5


class InsecureSettingsError(RuntimeError):
    """Raised at start-up in production when a secret is missing, default or weak."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Refusing to start in production: " + "; ".join(problems))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SAMACONSO_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        secrets_dir=os.environ.get("SAMACONSO_SECRETS_DIR") or None,
    )

    # --- general -------------------------------------------------------------------------------
    profile: Profile = "embedded"
    instance_name: str = Field(default="api", description="Name of this process in logs/metrics.")
    data_dir: Path = Field(default=Path(".samaconso"), description="Embedded data and outbox files.")
    log_level: str = "INFO"
    log_json: bool = True
    public_base_url: str = "http://127.0.0.1:8000"
    cors_origins: list[str] = Field(default_factory=list)
    public_docs: bool = Field(
        default=False, description="Serve /docs and /openapi.json to callers coming through the public VIP."
    )
    public_readiness: bool = Field(
        default=False, description="Serve /health/ready to callers coming through the public VIP."
    )

    # --- PostgreSQL (through PgBouncer in production) -------------------------------------------
    database_url: str = "postgresql+asyncpg://samaconso@127.0.0.1:54329/samaconso"
    database_read_url: str | None = Field(
        default=None,
        description="Read-only URL (a streaming replica, through its own PgBouncer) for the heavy pure "
        "reads: staff and audit lists, the dashboard refresh's aggregates. Unset: those reads use "
        "database_url, in a read-only transaction.",
    )
    database_pool_size: int = 10
    database_max_overflow: int = 10
    database_pool_timeout_s: float = 5.0
    database_statement_timeout_ms: int = 15_000
    database_pool_pre_ping: bool = Field(
        default=True,
        description="Ping a pooled connection before use when it sat idle longer than "
        "database_pool_ping_idle_s (a dropped one is replaced before the request uses it).",
    )
    database_pool_ping_idle_s: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="With pre-ping: only connections idle at least this long are pinged (the ping costs "
        "three round trips: BEGIN, a statement, ROLLBACK); 0 pings at every checkout.",
    )
    database_behind_pgbouncer: bool = Field(
        default=True, description="Disable server-side prepared statement caching (PgBouncer safe)."
    )
    database_pgbouncer_prepared_statements: bool = Field(
        default=False,
        description="The PgBouncer in front tracks prepared statements (>= 1.21 with "
        "max_prepared_statements > 0): the statement caches stay on behind it (a miss of a hot read "
        "costs about 40 % less CPU, bench/api.py). Never with PgBouncer < 1.21.",
    )

    # --- Redis (cache, rate limits, realtime fan-out, Celery results) --------------------------
    redis_url: str = "redis://127.0.0.1:63790/0"
    redis_timeout_s: float = 1.0
    # Redis Sentinel (growth, ARCHITECTURE §1): "host:port,host:port,…" of the sentinels. When set,
    # every Redis client (cache, rate limits, realtime, Celery results) asks them for the current
    # master named ``redis_sentinel_master``; the password and database number still come from
    # ``redis_url`` / ``result_backend`` (their host is then ignored); the sentinels are asked with
    # that same password when they have one (``requirepass`` of sentinel.conf = Redis's password).
    redis_sentinels: str | None = None
    redis_sentinel_master: str = "samaconso"
    gc_freeze: bool = Field(
        default=True,
        description="After start-up the API process collects once and freezes what it has built "
        "(gc.freeze: the import and wiring objects leave the collector's generations, full collections "
        "no longer walk them). Not in the test profile.",
    )
    gc_gen0_threshold: int = Field(
        default=0,
        ge=0,
        le=1_000_000,
        description="With gc_freeze, when > 0: the allocations between young collections (CPython's "
        "default 700). 0 keeps the default.",
    )
    response_cache_ttl_s: int = Field(
        default=60,
        ge=0,
        le=300,
        description="Longest life of a cached hot read (kit/response_cache.py): the staleness of what "
        "no invalidation hook sees (staff edits of a meter). 0 turns the response cache off.",
    )

    # --- Celery / RabbitMQ ----------------------------------------------------------------------
    broker_url: str = "redis://127.0.0.1:63790/1"
    result_backend: str | None = None
    celery_task_always_eager: bool = False
    celery_quorum_queues: bool = False
    flower_user: str = "admin"
    flower_password: SecretStr = SecretStr(EMBEDDED_SECRET)

    # --- S3 object storage (MinIO in production, SeaweedFS embedded) ---------------------------
    s3_endpoint_url: str = "http://127.0.0.1:8333"
    # Address the mobile app downloads presigned objects from (F5 virtual server in front of MinIO,
    # Host header preserved). Unset: links are signed for s3_endpoint_url.
    s3_public_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: str = "samaconso"
    s3_secret_key: SecretStr = SecretStr(EMBEDDED_SECRET)
    s3_bucket_avatars: str = "avatars"
    s3_bucket_documents: str = "documents"
    s3_timeout_s: float = 5.0
    s3_presign_ttl_s: int = Field(default=300, le=300)

    # --- tokens and identity ---------------------------------------------------------------------
    jwt_secret: SecretStr = SecretStr(EMBEDDED_SECRET)
    jwt_issuer: str = "samaconso"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 60 * 60 * 24 * 30
    refresh_grace_s: int = Field(
        default=30, ge=0, le=120, description="A just-rotated refresh token answers the same new pair."
    )
    session_revocation_check_s: int = Field(
        default=30, le=60, description="How long an access token's session state may be cached."
    )
    staff_idle_timeout_s: int = Field(
        default=900,
        ge=60,
        le=8 * 3600,
        description="A staff session (the agency console) unused this long ends: the console signs "
        "out after it, and the API refuses the session's tokens (refresh included).",
    )
    max_customer_devices: int = 2
    device_idle_days: int = 30
    otp_ttl_s: int = 300
    otp_max_attempts: int = 3
    otp_max_per_hour: int = 3
    pin_max_failures: int = 5
    pin_lockout_s: int = 900
    # meter access requests (issue 12, people used as targets): after the owner refuses or removes
    # someone, that person cannot ask again for this long; the owner is pushed about one requester
    # and meter at most once per notify cool-down; an owner has at most this many pending requests
    meter_request_refusal_cooldown_s: int = Field(default=86400, ge=0)
    meter_request_removal_cooldown_s: int = Field(default=86400, ge=0)
    meter_request_notify_cooldown_s: int = Field(default=86400, ge=0)
    meter_pending_requests_per_owner: int = Field(default=20, ge=1)

    # --- outbound: SMS, push, LDAP, XMLVend, legacy SQL Server ---------------------------------
    sms_backend: Literal["file", "orange"] = "file"
    sms_orange_wsdl_url: str | None = None
    sms_orange_login: str | None = None
    sms_orange_password: SecretStr | None = None
    sms_timeout_s: float = 10.0

    push_backend: Literal["file", "fcm"] = "file"
    fcm_project_id: str = "samaconso-local"
    fcm_endpoint: str = "https://fcm.googleapis.com"
    fcm_token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
    fcm_credentials_file: Path | None = None
    fcm_concurrency: int = 500  # per process: 2 processes x 500 in flight at ~50 ms covers 10 000/s+
    fcm_timeout_s: float = 10.0
    fcm_proxy_url: str | None = None
    fcm_verify_tls: bool | str = True
    ws_ping_interval_s: float = Field(
        default=25.0, gt=0, description="WebSocket keepalive; the token is re-checked at each one."
    )

    ldap_enabled: bool = False
    ldap_url: str = "ldap://127.0.0.1:389"
    ldap_bind_dn: str | None = None
    ldap_bind_password: SecretStr | None = None
    ldap_base_dn: str = "dc=senelec,dc=sn"
    ldap_login_attribute: str = "sAMAccountName"
    ldap_timeout_s: float = 5.0
    ldap_ca_bundle: Path | None = Field(
        default=None, description="CA bundle verifying the directory over ldaps:// (default: system store)."
    )

    legacy_backend: Literal["simulated", "mssql"] = "simulated"
    legacy_sic_url: str | None = None
    legacy_histh2mc_url: str | None = None
    legacy_bi_ods_url: str | None = None
    legacy_timeout_s: float = 3.0
    legacy_pool_size: int = 5
    legacy_simulated_url: str | None = Field(
        default=None,
        description="Simulated legacy source (PostgreSQL schemas sic/histh2mc/bi_ods); default: <database>_legacy.",
    )

    xmlvend_enabled: bool = False
    xmlvend_wsdl_url: str | None = None
    xmlvend_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SAMACONSO_XMLVEND_ENDPOINT", "XMLVEND_ENDPOINT", "xmlvend_endpoint"),
        description="Overrides the WSDL's soap:address (DOMAIN §6 calls it XMLVEND_ENDPOINT).",
    )
    xmlvend_client_p12: Path | None = None
    xmlvend_client_p12_password: SecretStr | None = None
    xmlvend_ca_bundle: Path | None = None
    xmlvend_client_ean: str = "0000000000000"
    xmlvend_operator: str | None = None
    xmlvend_operator_password: SecretStr | None = None
    xmlvend_connect_timeout_s: float = 5.0
    xmlvend_wsdl_timeout_s: float = 30.0
    xmlvend_read_timeout_s: float = 60.0
    # How long a customer's simulation waits for the vending system before the engine answers.
    xmlvend_simulator_budget_s: float = 8.0

    # --- metrics --------------------------------------------------------------------------------
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token for /metrics; without it only loopback may scrape."
    )
    # A worker's Prometheus endpoint (its pool processes' sends, failures, retries, dead tokens and
    # breakers, summed): off unless a port is set; same bearer token as the API's /metrics.
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    worker_metrics_host: str = "127.0.0.1"

    # --- uploads --------------------------------------------------------------------------------
    avatar_max_bytes: int = 2 * 1024 * 1024
    document_max_bytes: int = 5 * 1024 * 1024

    # --- the installed app and the cutover from v2 (GET /api/v1/app/config, 426 on v2 routes) --
    app_min_version_android: str = "3.0.0"
    app_min_version_ios: str = "3.0.0"
    app_latest_version_android: str = "3.0.0"
    app_latest_version_ios: str = "3.0.0"
    app_store_url_android: str = "https://play.google.com/store/apps/details?id=sn.senelec.samaconso"
    app_store_url_ios: str = "https://apps.apple.com/sn/app/samaconso/id1500000000"
    app_config_cache_s: int = Field(default=300, ge=0, le=3600)
    maintenance_enabled: bool = False
    maintenance_message_fr: str = "SamaConso est en maintenance. Merci de réessayer plus tard."
    maintenance_message_en: str = "SamaConso is under maintenance. Please try again later."
    maintenance_starts_at: datetime | None = None
    maintenance_ends_at: datetime | None = None
    # The v2 attachments bucket (``samaconso-uploads``). Endpoint/keys unset: the v3 S3 server's.
    v2_s3_bucket: str = "samaconso-uploads"
    v2_s3_endpoint_url: str | None = None
    v2_s3_access_key: str | None = None
    v2_s3_secret_key: SecretStr | None = None

    @model_validator(mode="after")
    def _production_refuses_weak_secrets(self) -> Settings:
        if self.profile == "production":
            problems = self.security_problems()
            if problems:
                raise InsecureSettingsError(problems)
        return self

    def security_problems(self) -> list[str]:
        """Every reason this configuration is unsafe for production (empty when it is fine)."""
        problems: list[str] = []

        def weak(name: str, value: SecretStr | None, min_len: int) -> None:
            env = f"SAMACONSO_{name.upper()}"
            if value is None or not value.get_secret_value():
                problems.append(f"{env} is missing")
                return
            raw = value.get_secret_value()
            if raw.lower() in WEAK_SECRETS:
                problems.append(f"{env} uses a default or well-known value")
            elif len(raw.encode()) < min_len:
                problems.append(f"{env} is too short (at least {min_len} characters)")

        weak("jwt_secret", self.jwt_secret, MIN_SIGNING_KEY_BYTES)
        weak("s3_secret_key", self.s3_secret_key, MIN_PASSWORD_CHARS)
        weak("flower_password", self.flower_password, MIN_PASSWORD_CHARS)
        weak("metrics_token", self.metrics_token, MIN_SIGNING_KEY_BYTES)
        for url_name in ("database_url", "database_read_url", "redis_url", "broker_url"):
            url: str | None = getattr(self, url_name)
            if url is not None and _url_password_is_weak(url):
                problems.append(f"SAMACONSO_{url_name.upper()} has a missing or default password")
        if self.ldap_enabled:
            weak("ldap_bind_password", self.ldap_bind_password, MIN_PASSWORD_CHARS)
        if self.sms_backend == "orange":
            weak("sms_orange_password", self.sms_orange_password, 8)
        if self.xmlvend_enabled:
            weak("xmlvend_client_p12_password", self.xmlvend_client_p12_password, 8)
            weak("xmlvend_operator_password", self.xmlvend_operator_password, 6)
        if self.legacy_backend == "mssql":
            for url_name in ("legacy_sic_url", "legacy_histh2mc_url", "legacy_bi_ods_url"):
                legacy_url: str | None = getattr(self, url_name)
                if not legacy_url:
                    problems.append(f"SAMACONSO_{url_name.upper()} is missing")
                elif _url_password_is_weak(legacy_url):
                    problems.append(f"SAMACONSO_{url_name.upper()} has a missing or default password")
        if self.push_backend == "fcm" and self.fcm_credentials_file is None:
            problems.append("SAMACONSO_FCM_CREDENTIALS_FILE is missing")
        problems.extend(self._unsafe_choices())
        return problems

    def _unsafe_choices(self) -> list[str]:
        """Non-secret settings that open the platform to attack: refused in production."""
        found: list[str] = []
        if self.result_backend and _url_password_is_weak(self.result_backend):
            found.append(
                "SAMACONSO_RESULT_BACKEND has a missing or default password "
                "(task results would be readable and writable by anyone on the network)"
            )
        if any(origin.strip() in ("*", "null") for origin in self.cors_origins):
            found.append(
                "SAMACONSO_CORS_ORIGINS contains '*' or 'null': any web page could call the API "
                "with a user's browser; list the exact origins"
            )
        verify = self.fcm_verify_tls
        if self.push_backend == "fcm" and (
            verify is False
            or (isinstance(verify, str) and verify.strip().lower() in ("false", "0", "no", "off"))
        ):
            found.append(
                "SAMACONSO_FCM_VERIFY_TLS=false: the proxy or anyone on the path could read and alter "
                "push messages and the Google credentials; give a CA bundle path instead"
            )
        if self.ldap_enabled and not self.ldap_url.lower().startswith("ldaps://"):
            found.append(
                "SAMACONSO_LDAP_URL is plain ldap://: staff passwords would cross the network in clear; "
                "use ldaps://"
            )
        if self.legacy_backend == "mssql":
            for url_name in ("legacy_sic_url", "legacy_histh2mc_url", "legacy_bi_ods_url"):
                legacy_url: str | None = getattr(self, url_name)
                if legacy_url and "encryption=off" in legacy_url.replace(" ", "").lower():
                    found.append(
                        f"SAMACONSO_{url_name.upper()} has encryption=off: customer data and the database "
                        "password would cross the network in clear"
                    )
        if self.access_token_ttl_s > MAX_ACCESS_TOKEN_TTL_S:
            found.append(
                f"SAMACONSO_ACCESS_TOKEN_TTL_S={self.access_token_ttl_s}: a stolen access token would "
                f"work that long (at most {MAX_ACCESS_TOKEN_TTL_S} s; sessions last through refresh)"
            )
        if self.refresh_token_ttl_s > MAX_REFRESH_TOKEN_TTL_S:
            found.append(
                f"SAMACONSO_REFRESH_TOKEN_TTL_S={self.refresh_token_ttl_s}: sessions would outlive "
                f"{MAX_REFRESH_TOKEN_TTL_S // 86400} days without a sign-in"
            )
        if not 1 <= self.pin_max_failures <= MAX_PIN_FAILURES:
            found.append(
                f"SAMACONSO_PIN_MAX_FAILURES={self.pin_max_failures}: a 4-digit PIN must lock after at "
                f"most {MAX_PIN_FAILURES} wrong tries (10 000 possible PINs)"
            )
        if not 1 <= self.otp_max_attempts <= MAX_OTP_ATTEMPTS:
            found.append(
                f"SAMACONSO_OTP_MAX_ATTEMPTS={self.otp_max_attempts}: a code must die after at most "
                f"{MAX_OTP_ATTEMPTS} wrong tries"
            )
        if self.pin_lockout_s < 60:
            found.append(
                f"SAMACONSO_PIN_LOCKOUT_S={self.pin_lockout_s}: a lockout under a minute does not slow guessing"
            )
        return found

    def unusual_choices(self) -> list[str]:
        """Allowed in production, but worth a second look (printed by check-config, logged at start)."""
        found: list[str] = []
        if self.flower_user.lower() in WEAK_SECRETS or self.flower_user.lower() in ("root", "user", "flower"):
            found.append(f"SAMACONSO_FLOWER_USER={self.flower_user}: a guessable user name; choose another")
        if self.access_token_ttl_s > 900:
            found.append(
                f"SAMACONSO_ACCESS_TOKEN_TTL_S={self.access_token_ttl_s}: longer than the usual 900 s"
            )
        if self.pin_lockout_s < 900:
            found.append(f"SAMACONSO_PIN_LOCKOUT_S={self.pin_lockout_s}: shorter than the usual 900 s")
        if self.otp_max_per_hour > 5:
            found.append(
                f"SAMACONSO_OTP_MAX_PER_HOUR={self.otp_max_per_hour}: more SMS per phone than usual (3)"
            )
        if any(origin.startswith("http://") for origin in self.cors_origins):
            found.append("SAMACONSO_CORS_ORIGINS lists an http:// origin: pages not served over TLS")
        if self.legacy_backend == "mssql":
            for url_name in ("legacy_sic_url", "legacy_histh2mc_url", "legacy_bi_ods_url"):
                legacy_url: str | None = getattr(self, url_name)
                if legacy_url and "encryption=request" in legacy_url.replace(" ", "").lower():
                    found.append(
                        f"SAMACONSO_{url_name.upper()} has encryption=request: TLS only if the server offers it"
                    )
        return found

    def deployment_warnings(self) -> list[str]:
        """Choices that are allowed in production but mean messages do not reach people."""
        warnings: list[str] = []
        if self.profile != "production":
            return warnings
        if self.sms_backend == "file":
            warnings.append("SAMACONSO_SMS_BACKEND=file: SMS codes are written to the outbox file, not sent")
        if self.push_backend == "file":
            warnings.append(
                "SAMACONSO_PUSH_BACKEND=file: push messages are written to the outbox file, not sent"
            )
        if self.legacy_backend == "simulated":
            warnings.append(
                "SAMACONSO_LEGACY_BACKEND=simulated: meters and consumption come from simulated data"
            )
        warnings.extend(self.unusual_choices())
        return warnings

    @property
    def is_production(self) -> bool:
        return self.profile == "production"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"


def _url_password_is_weak(url: str) -> bool:
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url.replace("+asyncpg", "").replace("+psycopg", ""))
    if parts.scheme in ("memory", "sqlite", "") or parts.hostname in (None, ""):
        return False
    password = unquote(parts.password or "")
    return password.lower() in WEAK_SECRETS or len(password) < MIN_PASSWORD_CHARS


SIGNING_KEY_FILE = "signing.key"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def embedded_signing_key(data_dir: Path) -> SecretStr:
    """The embedded profile's own signing key: random, one per data directory, in a 0600 file
    (never the constant shipped in the code, which anyone could use to mint tokens)."""
    import secrets

    path = data_dir / SIGNING_KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return SecretStr(path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    return SecretStr(path.read_text().strip())


def with_own_signing_key(settings: Settings) -> Settings:
    if settings.profile == "embedded" and settings.jwt_secret.get_secret_value() == EMBEDDED_SECRET:
        settings.jwt_secret = embedded_signing_key(settings.data_dir)
    return settings


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return with_own_signing_key(Settings())
