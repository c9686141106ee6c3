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
    var_dir: Path = PROJECT_ROOT / "var"
    max_batch_items: int = 1000
    max_batch_bytes: int = 2_000_000
    # How long a write waits for a lock (SQLite's busy timeout, PostgreSQL's lock_timeout) before
    # the client gets a 503 with Retry-After.
    db_lock_timeout_ms: int = 10_000
    # A read replica (PDI_READ_DATABASE_URL) for the reads that scan the pathways, indicators and
    # the bilan, so that they do not compete with writes; unset, they read DATABASE_URL.
    read_database_url: str | None = None
    # Worker processes of `pdi serve` (and of the image, through uvicorn's WEB_CONCURRENCY).
    workers: int = Field(default=1, ge=1)

    @field_validator("database_url")
    @classmethod
    def use_psycopg_driver(cls, url: str) -> str:
        # Hosts hand out `postgres://` or `postgresql://`; SQLAlchemy needs the driver named.
        return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)

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
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
