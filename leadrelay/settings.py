"""Settings, read once from the environment (or a mapping, in tests). Nothing else reads os.environ.

Every variable is listed in the README with its default. Add new ones here, with a default that
works on a developer's machine, and document them there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean (use true or false)")


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None


def _float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None


def env(name: str, default: Any, **meta: Any) -> Any:
    """A field read from the environment variable `name`."""
    return field(default=default, metadata={"env": name, **meta})


@dataclass(frozen=True)
class Settings:
    # Database. Empty DATABASE_URL: the embedded PostgreSQL (pgserver) under LEADRELAY_HOME.
    database_url: str = env("DATABASE_URL", "")
    home: str = env("LEADRELAY_HOME", ".leadrelay")
    db_pool_min: int = env("LEADRELAY_DB_POOL_MIN", 2)
    db_pool_max: int = env("LEADRELAY_DB_POOL_MAX", 10)
    migrate_on_start: bool = env("LEADRELAY_MIGRATE_ON_START", True)

    # Ports and addresses.
    host: str = env("LEADRELAY_HOST", "127.0.0.1")
    ingest_grpc_port: int = env("INGEST_GRPC_PORT", 50051)
    ingest_http_port: int = env("INGEST_HTTP_PORT", 8080)
    validation_grpc_port: int = env("VALIDATION_GRPC_PORT", 50052)
    feedback_grpc_port: int = env("FEEDBACK_GRPC_PORT", 50053)
    reports_port: int = env("REPORTS_PORT", 8501)
    sandbox_port: int = env("SANDBOX_PORT", 8090)
    validation_target: str = env("VALIDATION_TARGET", "127.0.0.1:50052")
    ingest_target: str = env("INGEST_TARGET", "127.0.0.1:50051")
    feedback_target: str = env("FEEDBACK_TARGET", "127.0.0.1:50053")
    # Public base URL of the ingest HTTP port (webhook URLs given to the platforms).
    public_base_url: str = env("LEADRELAY_PUBLIC_URL", "http://127.0.0.1:8080")

    # Secrets. Empty: `leadrelay up` generates them under LEADRELAY_HOME (never in the repo).
    # Fernet key for tokens and destination credentials at rest.
    secret_key: str = env("LEADRELAY_SECRET_KEY", "", secret=True)
    # Lets our own services call each other on an account's behalf.
    internal_token: str = env("LEADRELAY_INTERNAL_TOKEN", "", secret=True)

    # Logging.
    log_level: str = env("LEADRELAY_LOG_LEVEL", "INFO")
    # json (one object per line, production) or text (readable in a terminal).
    log_format: str = env("LEADRELAY_LOG_FORMAT", "text")

    # gRPC.
    grpc_grace_seconds: float = env("LEADRELAY_GRPC_GRACE_SECONDS", 5.0)
    api_key_cache_seconds: float = env("LEADRELAY_API_KEY_CACHE_SECONDS", 30.0)

    # Capture core.
    max_batch_size: int = env("LEADRELAY_MAX_BATCH_SIZE", 1000)
    validate_batch_size: int = env("LEADRELAY_VALIDATE_BATCH_SIZE", 500)
    sweeper_interval_seconds: float = env("LEADRELAY_SWEEPER_INTERVAL_SECONDS", 30.0)
    sweeper_min_age_seconds: float = env("LEADRELAY_SWEEPER_MIN_AGE_SECONDS", 60.0)
    validation_timeout_seconds: float = env("LEADRELAY_VALIDATION_TIMEOUT_SECONDS", 10.0)

    # Platforms (the sandbox stands in for them in development and tests).
    graph_api_base_url: str = env("GRAPH_API_BASE_URL", "https://graph.facebook.com")
    graph_api_version: str = env("GRAPH_API_VERSION", "v25.0")
    facebook_app_secret: str = env("FACEBOOK_APP_SECRET", "", secret=True)
    facebook_verify_token: str = env("FACEBOOK_VERIFY_TOKEN", "", secret=True)
    linkedin_api_base_url: str = env("LINKEDIN_API_BASE_URL", "https://api.linkedin.com")
    linkedin_version: str = env("LINKEDIN_VERSION", "202601")
    linkedin_client_secret: str = env("LINKEDIN_CLIENT_SECRET", "", secret=True)
    # Webhook POSTs are read before their signature is checked: at most this many bytes each, this
    # many at once (the rest wait), each within this many seconds.
    webhook_max_body_bytes: int = env("WEBHOOK_MAX_BODY_BYTES", 1024 * 1024)
    webhook_max_open_bodies: int = env("WEBHOOK_MAX_OPEN_BODIES", 32)
    webhook_body_timeout_seconds: float = env("WEBHOOK_BODY_TIMEOUT_SECONDS", 10.0)
    poll_interval_seconds: float = env("LEADRELAY_POLL_INTERVAL_SECONDS", 300.0)
    # OAuth connect (docs/platform-oauth.md): the apps' ids and where the consent pages live.
    facebook_app_id: str = env("FACEBOOK_APP_ID", "")
    facebook_login_base_url: str = env("FACEBOOK_LOGIN_BASE_URL", "https://www.facebook.com")
    linkedin_client_id: str = env("LINKEDIN_CLIENT_ID", "")
    linkedin_oauth_base_url: str = env("LINKEDIN_OAUTH_BASE_URL", "https://www.linkedin.com")
    # Ask LinkedIn for rw_conversions too (the LinkedIn Conversions API feedback).
    linkedin_conversions: bool = env("LINKEDIN_CONVERSIONS", True)
    # The console's address: the connect callback sends the browser back to its Connect page.
    console_url: str = env("LEADRELAY_CONSOLE_URL", "http://127.0.0.1:8501")
    connect_state_seconds: float = env("LEADRELAY_CONNECT_STATE_SECONDS", 600.0)
    # Tokens are renewed this long before they expire; admins are told this long before only a
    # reconnect helps (Integrate: day 75 of 90).
    token_renew_before_days: float = env("LEADRELAY_TOKEN_RENEW_BEFORE_DAYS", 7.0)
    reconnect_remind_days: float = env("LEADRELAY_RECONNECT_REMIND_DAYS", 15.0)
    token_check_seconds: float = env("LEADRELAY_TOKEN_CHECK_SECONDS", 3600.0)
    sync_max_days: int = env("LEADRELAY_SYNC_MAX_DAYS", 90)

    # Post-out.
    postout_workers: int = env("POSTOUT_WORKERS", 8)
    postout_allow_private_urls: bool = env("POSTOUT_ALLOW_PRIVATE_URLS", False)
    # Exact host:port entries (comma-separated) a destination may use although private (the demo's
    # sandbox). Neither this nor the switch above ever allows link-local or cloud-metadata addresses.
    postout_allow_hosts: str = env("POSTOUT_ALLOW_HOSTS", "")
    postout_retry_horizon_seconds: float = env("POSTOUT_RETRY_HORIZON_SECONDS", 7 * 24 * 3600.0)
    postout_lease_seconds: float = env("POSTOUT_LEASE_SECONDS", 60.0)
    postout_breaker_threshold: int = env("POSTOUT_BREAKER_THRESHOLD", 10)
    postout_breaker_cooldown_seconds: float = env("POSTOUT_BREAKER_COOLDOWN_SECONDS", 300.0)
    postout_backoff_base_seconds: float = env("POSTOUT_BACKOFF_BASE_SECONDS", 5.0)
    postout_backoff_max_seconds: float = env("POSTOUT_BACKOFF_MAX_SECONDS", 3600.0)
    postout_poll_seconds: float = env("POSTOUT_POLL_SECONDS", 0.5)

    # Files.
    import_max_bytes: int = env("LEADRELAY_IMPORT_MAX_BYTES", 512 * 1024 * 1024)
    import_max_rows: int = env("LEADRELAY_IMPORT_MAX_ROWS", 2_000_000)
    # Uploads (ImportLeads, ReuploadLeads) one account, and one process, may run at once, and how
    # long a stream may send nothing before it is ended.
    uploads_per_account: int = env("LEADRELAY_UPLOADS_PER_ACCOUNT", 4)
    uploads_max: int = env("LEADRELAY_UPLOADS_MAX", 32)
    upload_idle_seconds: float = env("LEADRELAY_UPLOAD_IDLE_SECONDS", 60.0)
    # An import claimed by a call; a crashed process's import can be resumed after this.
    import_lease_seconds: float = env("LEADRELAY_IMPORT_LEASE_SECONDS", 30.0)
    # Threads reading and mapping files (one pool, never the default executor).
    file_workers: int = env("LEADRELAY_FILE_WORKERS", 2)
    # What one file may cost: reading time per pass, and for XLSX the unzipped size, ratio, shared
    # strings and declared columns.
    file_max_seconds: float = env("LEADRELAY_FILE_MAX_SECONDS", 300.0)
    xlsx_max_unzipped_bytes: int = env("LEADRELAY_XLSX_MAX_UNZIPPED_BYTES", 1024 * 1024 * 1024)
    xlsx_max_ratio: int = env("LEADRELAY_XLSX_MAX_RATIO", 100)
    xlsx_max_shared_strings_bytes: int = env("LEADRELAY_XLSX_MAX_SHARED_STRINGS_BYTES", 64 * 1024 * 1024)
    xlsx_max_columns: int = env("LEADRELAY_XLSX_MAX_COLUMNS", 1000)
    # The first sheet's rectangle (rows x columns, first to last cell): the XLSX reader holds it whole.
    xlsx_max_cells: int = env("LEADRELAY_XLSX_MAX_CELLS", 25_000_000)

    # Feedback (Meta Conversions API).
    capi_base_url: str = env("CAPI_BASE_URL", "https://graph.facebook.com")
    capi_api_version: str = env("CAPI_API_VERSION", "v25.0")
    feedback_poll_seconds: float = env("FEEDBACK_POLL_SECONDS", 2.0)
    feedback_backoff_base_seconds: float = env("FEEDBACK_BACKOFF_BASE_SECONDS", 5.0)
    feedback_backoff_max_seconds: float = env("FEEDBACK_BACKOFF_MAX_SECONDS", 900.0)

    # Reports and scheduled exports.
    reports_database_role: str = env("REPORTS_DATABASE_ROLE", "leadrelay_reader")
    smtp_host: str = env("SMTP_HOST", "127.0.0.1")
    smtp_port: int = env("SMTP_PORT", 8025)
    smtp_username: str = env("SMTP_USERNAME", "")
    smtp_password: str = env("SMTP_PASSWORD", "", secret=True)
    smtp_tls: str = env("SMTP_TLS", "none")  # none, starttls or tls
    smtp_from: str = env("SMTP_FROM", "reports@leadrelay.local")
    scheduler_poll_seconds: float = env("SCHEDULER_POLL_SECONDS", 30.0)
    # A console session ends after this long without a page run (and at sign-out).
    reports_session_idle_hours: float = env("REPORTS_SESSION_IDLE_HOURS", 12.0)

    # Demo data for `make run`.
    demo: bool = env("LEADRELAY_DEMO", True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f.metadata["env"]
            if name not in source:
                continue
            raw = source[name]
            kind: type[object] = type(f.default)
            if kind is bool:
                values[f.name] = _bool(name, raw)
            elif kind is int:
                values[f.name] = _int(name, raw)
            elif kind is float:
                values[f.name] = _float(name, raw)
            else:
                values[f.name] = raw
        settings = cls(**values)
        if settings.log_format not in {"json", "text"}:
            raise SettingsError(f"LEADRELAY_LOG_FORMAT={settings.log_format!r}: use json or text")
        return settings

    def replace(self, **changes: Any) -> Settings:
        return type(self)(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})

    @property
    def home_path(self) -> Path:
        return Path(self.home).expanduser().resolve()

    def as_env(self) -> dict[str, str]:
        """The settings as environment variables, to hand to child processes."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.metadata["env"]] = str(value).lower() if isinstance(value, bool) else str(value)
        return out

    @classmethod
    def documented(cls) -> list[tuple[str, str, bool]]:
        """(variable, default, secret) for every setting, for the README and `leadrelay settings`."""
        return [(f.metadata["env"], str(f.default), bool(f.metadata.get("secret"))) for f in fields(cls)]
