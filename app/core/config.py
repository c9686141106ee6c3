"""Settings, read from the environment (and an optional `.env` file) by pydantic-settings."""

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SECRET_KEY = "dev-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_prefix="PDI_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    # DATABASE_URL is the name every host (Docker, PaaS) already uses, so it carries no prefix.
    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'pdi.db'}",
        validation_alias="DATABASE_URL",
    )
    # Keys the HMAC that pseudonymises beneficiaries' file numbers: changing it orphans every
    # stored beneficiary, so production must set its own and keep it.
    secret_key: str = DEFAULT_SECRET_KEY
    cors_origins: list[str] = []
    log_level: str = "INFO"
    # `text` for people reading a terminal, `json` (one object per line) for a log collector.
    log_format: Literal["text", "json"] = "text"
    # GET /metrics for Prometheus; off where nothing scrapes it or it must not be reachable.
    metrics: bool = True
    # Swagger UI (/docs), ReDoc (/redoc) and their assets; off where only clients of the API, who
    # have docs/openapi.json, reach it. The OpenAPI document stays served either way.
    docs: bool = True
    # When `pdi demo` and other long commands write to a file or a pipe rather than a terminal,
    # they print a progress line this often instead of redrawing a bar.
    progress_interval_seconds: float = 5.0
    var_dir: Path = PROJECT_ROOT / "var"
    max_batch_items: int = 1000
    max_batch_bytes: int = 2_000_000
    # How long a write waits for a lock (SQLite's busy timeout, PostgreSQL's lock_timeout) before
    # the client gets a 503 with Retry-After.
    db_lock_timeout_ms: int = 10_000
    # How long one SQL statement of a request may run (PostgreSQL's statement_timeout, set per
    # transaction; on SQLite a progress handler interrupts it) before the client gets a 503 with
    # Retry-After: anonymous callers and keys other than admin get the first, admin the second.
    db_statement_timeout_ms: int = Field(default=5_000, ge=0)
    db_statement_timeout_admin_ms: int = Field(default=30_000, ge=0)
    # How long a connection to PostgreSQL may take to open before the request answers 503: below
    # the statement budget, so that a request meeting a stopped server answers within it.
    db_connect_timeout_seconds: int = Field(default=3, ge=1)
    # GET /indicators: the calendar years its window meets times its group keys (at least 1) may
    # not exceed this (a 422 says so): ten years by action, family and convention are 30.
    indicators_max_year_groups: int = Field(default=40, ge=1)
    # Statistical secrecy (app/indicators/secrecy.py): a figure resting on fewer persons than
    # this is withheld from the keys that may not read personal data; 0 or 1 turns it off.
    min_cell_size: int = Field(default=5, ge=0)
    # Heavy reads (indicators, the bilan, reports, exports) at once per worker: more answer 503
    # with Retry-After, so that they never hold the connections the rest of the API needs (0: no
    # limit). Within it, each caller (key, person) runs `per_caller` at once, anonymous callers
    # together `anonymous`: one caller flooding never turns another away.
    heavy_reads_concurrency: int = Field(default=3, ge=0)
    heavy_reads_per_caller: int = Field(default=1, ge=1)
    heavy_reads_anonymous: int = Field(default=1, ge=1)
    # PostgreSQL's parallel workers a heavy read's plan may add per step
    # (max_parallel_workers_per_gather, set per transaction; PostgreSQL's default is 2). 0: one
    # core each. Beside the database on a small host, a bilan in parallel took every core and
    # the writes and polls waited for them (docs/PERFORMANCE.md); where cores are plenty, raise it.
    heavy_reads_parallel_workers: int = Field(default=0, ge=0)
    # The département whose programme this is (SPEC C12): its INSEE code, its name, and its SIRET
    # (the grantor of the SCDL subventions export, which answers 409 while it is unset).
    departement_code: str = Field(default="72", pattern=r"^(\d{2}|2[AB]|97\d)$")
    departement_name: str = Field(default="Sarthe", min_length=1, max_length=100)
    departement_siret: str | None = Field(default=None, pattern=r"^\d{14}$")
    # The data·inclusion export (GET /exports/data-inclusion/…): `source` names this producer in
    # every item and prefixes its ids (unset: "cd" and the département's code, lower case);
    # `portal_url` is where a professional mobilises a service (the RSA portal), sent as each
    # service's lien_mobilisation when set.
    source: str = Field(default="", pattern=r"^([a-z0-9]+(-[a-z0-9]+)*)?$", max_length=64)
    portal_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?$")
    # Every request body is capped while it is read, before it is parsed or its key checked
    # (POST /exit-records has its own cap, max_batch_bytes).
    max_body_bytes: int = 1_000_000
    # The request line and headers together (uvicorn's h11 buffer; nginx's buffers in Compose),
    # how many header fields, and how long the head may take to arrive (`pdi serve`; nginx).
    max_header_bytes: int = Field(default=32_768, ge=4096)
    max_headers: int = Field(default=100, ge=0)
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    # Rate limits in the `limits` notation ("120/minute", "10/second"); "0" or empty turns one off.
    rate_limit_anonymous: str = "120/minute"
    rate_limit_key: str = "1200/minute"
    rate_limit_auth_failures: str = "20/minute"
    # Where the counters live: memory (one process) or a shared store, e.g. redis://host:6379.
    rate_limit_storage: str = "memory://"
    # A shared store that does not answer within this many seconds is skipped (requests are let
    # through) for `rate_limit_storage_retry_seconds` before it is tried again.
    rate_limit_storage_timeout_seconds: float = Field(default=0.2, gt=0)
    rate_limit_storage_retry_seconds: float = Field(default=5.0, ge=0)
    # Strict-Transport-Security on every response: only behind HTTPS.
    hsts: bool = False
    # `pdi retention` without --ended-before detaches pathways ended more than this many years ago.
    retention_years: int = Field(default=5, ge=1)
    # The hours a week a contrat d'engagement plans (SPEC C11), unless lowered for one person
    # (PUT /beneficiaries/{id}/engagement); GET /weekly-hours lists those below it.
    weekly_hours_target: float = Field(default=15, ge=0, le=35)
    # A prescription not answered this many days after it was made expires (SPEC C7), and a
    # waitlisted one after PDI_WAITLIST_DAYS; app/pathways/expiry.py.
    decision_days: int = Field(default=30, ge=1)
    waitlist_days: int = Field(default=90, ge=1)
    # A read replica (PDI_READ_DATABASE_URL) for the reads that scan the pathways, indicators and
    # the bilan, so that they do not compete with writes; unset, they read DATABASE_URL.
    read_database_url: str | None = None
    # Anonymous GET /availability answered from each worker's memory while the data has not
    # changed (PostgreSQL only: the workers learn of changes by LISTEN; app/availability/cache.py).
    availability_cache: bool = True
    # How long a page from memory stays the answer after a write moved the feed (seconds): within
    # it, polls get it as it is; within twice it, they get it while a request of the service's own
    # builds the next page; past that, the poll builds it. Under a steady stream of writes each
    # worker then builds a question's page about once a period, and no poll waits for it.
    # 0: every write makes the next poll build the page.
    availability_stale_seconds: float = Field(default=1.0, ge=0, le=30)
    # Worker processes of `pdi serve` (and of the image, through uvicorn's WEB_CONCURRENCY).
    workers: int = Field(default=1, ge=1)
    # Webhooks (app/webhooks): `true` also lets endpoints use http and private or loopback
    # addresses (tests, a local network); otherwise https to public addresses only.
    webhook_allow_private: bool = False
    # How long one delivery attempt may take, everything included (resolution, connection, the
    # answer's head and body): a 2xx within it is a delivery (SPEC C8: 15 s).
    webhook_attempt_seconds: float = Field(default=15.0, gt=0, le=15)
    # Endpoints one key holder may have (POST /webhooks: 409 beyond), and replays it may ask per
    # hour (429 beyond): what one tenant can make the worker do.
    webhook_max_endpoints: int = Field(default=10, ge=1)
    webhook_replays_per_hour: int = Field(default=10, ge=1)
    # Attempts kept in the delivery log (GET /webhooks/{id}/deliveries), in days.
    webhook_log_days: int = Field(default=30, ge=1)
    # The worker (webhooks, periodic jobs) inside `pdi serve`: unset, it runs there on SQLite only
    # (PostgreSQL deployments run `pdi worker` beside the API); true or false forces it.
    worker_in_process: bool | None = None
    # How often an idle worker looks for work, in seconds.
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # How long a worker's claim on an endpoint lasts without news of it (renewed at each delivery):
    # after a worker dies mid-delivery, another takes the endpoint over once it lapses. Keep it
    # well above PDI_WEBHOOK_ATTEMPT_SECONDS: an attempt is cut short rather than outlive the lease
    # (no second worker takes an endpoint while an attempt to it runs).
    worker_lease_seconds: float = Field(default=60, ge=1)
    # People signing in (SPEC C10): the identity provider's issuer URL (its discovery document at
    # `<issuer>/.well-known/openid-configuration` names its keys) and the `aud` the service
    # requires in access tokens. Unset: API keys only.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    # A public client registered at the issuer for /docs' "Authorize" (authorization code + PKCE).
    oidc_docs_client_id: str | None = None

    @field_validator("database_url")
    @classmethod
    def use_psycopg_driver(cls, url: str) -> str:
        # Hosts hand out `postgres://` or `postgresql://`; SQLAlchemy needs the driver named.
        return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)

    @field_validator("departement_siret")
    @classmethod
    def siret_check_digits(cls, siret: str | None) -> str | None:
        from stdnum.fr import siret as stdnum_siret

        if siret is not None and not stdnum_siret.is_valid(siret):
            raise ValueError("PDI_DEPARTEMENT_SIRET fails its check digits (SIREN and SIRET)")
        return siret

    @model_validator(mode="after")
    def source_of_the_departement(self) -> "Settings":
        if not self.source:
            self.source = f"cd{self.departement_code.lower()}"
        return self

    @field_validator(
        "portal_url",
        "worker_in_process",
        "departement_siret",
        "oidc_issuer",
        "oidc_audience",
        "oidc_docs_client_id",
        mode="before",
    )
    @classmethod
    def empty_is_unset(cls, value):
        # `PDI_PORTAL_URL=` in a .env or compose file means "no portal", not a malformed URL; the same
        # for every optional setting.
        return None if value == "" else value

    @field_validator("rate_limit_anonymous", "rate_limit_key", "rate_limit_auth_failures")
    @classmethod
    def parse_as_rate_limit(cls, value: str) -> str:
        from limits import parse_many

        if value.strip() not in ("", "0"):
            parse_many(value)  # a typo fails at start, not on the first request
        return value.strip()

    @model_validator(mode="after")
    def oidc_needs_both(self) -> "Settings":
        if (self.oidc_issuer is None) != (self.oidc_audience is None):
            raise ValueError("PDI_OIDC_ISSUER and PDI_OIDC_AUDIENCE are set together, or neither")
        return self

    @field_validator("read_database_url")
    @classmethod
    def replica_with_psycopg_driver(cls, url: str | None) -> str | None:
        # An empty value (Compose passes an unset variable so) means no replica.
        return cls.use_psycopg_driver(url) if url else None

    @model_validator(mode="after")
    def refuse_default_secret_in_production(self) -> "Settings":
        if self.env == "production" and self.secret_key == DEFAULT_SECRET_KEY:
            raise ValueError("PDI_SECRET_KEY must be set to a secret of your own in production")
        if self.env == "production" and len(self.secret_key) < 32:
            raise ValueError("PDI_SECRET_KEY must be at least 32 characters in production")
        return self

    @property
    def uses_default_secret(self) -> bool:
        return self.secret_key == DEFAULT_SECRET_KEY

    @property
    def is_sqlite(self) -> bool:
        # The embedded default: `pdi serve` delivers webhooks in its own process there.
        return self.database_url.startswith("sqlite")


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def refuse_default_secret_off_loopback(settings: Settings, host: str) -> None:
    """Serving beyond this machine with the development secret would pseudonymise real file
    numbers under a key anyone can read in the source: refused whatever PDI_ENV says."""
    if settings.uses_default_secret and not is_loopback(host):
        raise RuntimeError(
            f"refusing to serve on {host} with the default PDI_SECRET_KEY: set a secret of your own "
            "(e.g. `make env`) or listen on 127.0.0.1"
        )


@lru_cache
def get_settings() -> Settings:
    return Settings()
