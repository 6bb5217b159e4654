"""The service's settings, read once from `GREENLIGHT_API_*` environment variables.

Every setting is documented in `docs/api.md`; keep the two in step. `GREENLIGHT_REVISION` and
`GREENLIGHT_COLOR` are not ours: the operator sets them on every pod it runs, and `/version`
reports them.
"""

from __future__ import annotations

import enum
import functools
import re
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# A namespace name: an RFC 1123 label.
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class AuthMode(enum.StrEnum):
    TOKENREVIEW = "tokenreview"  # bearer tokens checked by the API server; the default
    NONE = "none"  # everyone may do everything: local development only


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GREENLIGHT_API_", extra="ignore", frozen=True, populate_by_name=True
    )

    kubeconfig: str | None = Field(
        default=None,
        description="Kubeconfig file to use. Default: in-cluster credentials when running in a "
        "pod, else `$KUBECONFIG`, else `~/.kube/config`.",
    )
    context: str | None = Field(default=None, description="Kubeconfig context to use.")
    namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated namespaces whose Releases are served; empty: all.",
    )
    auth: AuthMode = Field(
        default=AuthMode.TOKENREVIEW,
        description="`tokenreview`: bearer tokens checked with TokenReview and "
        "SubjectAccessReview. `none`: no checks at all, for local development only.",
    )
    auth_audiences: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["greenlight"],
        description="Comma-separated audiences a bearer token must have been issued for "
        "(`kubectl create token <sa> --audience greenlight`); empty: the API server's own, "
        "so that any Kubernetes token is accepted.",
    )
    auth_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        le=300,
        description="How long a TokenReview or SubjectAccessReview answer is reused.",
    )
    auth_new_tokens_per_second: float = Field(
        default=5.0,
        gt=0,
        le=1000,
        description="TokenReviews per second (burst ten times as many) for tokens not seen "
        "valid in the last hour; beyond it such a token is answered 429 without a review.",
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="A connection must deliver a request's headers within this (from its "
        "opening, or the end of the previous response); else it is closed. Needs the image's "
        "protocol class (`--http greenlight_api.core.connections:HeaderTimeoutH11Protocol`).",
    )
    drain_grace_seconds: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="After SIGTERM, how long the service keeps serving with `/readyz` at 503 "
        "while load balancers stop sending it traffic, before it stops accepting connections.",
    )
    sse_keepalive_seconds: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="Interval of keep-alive comments on idle event streams.",
    )
    sse_max_stream_seconds: float = Field(
        default=1800.0,
        ge=1,
        le=86400,
        description="Longest life of one event stream; it then ends with reason `expired` "
        "(up to a tenth sooner, so that clients do not all reconnect at once) and the client "
        "reconnects, authenticated afresh.",
    )
    sse_max_streams_per_user: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Event streams one user may have open on one replica; one more is 429.",
    )
    kube_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Timeout of one Kubernetes API call."
    )
    kube_threads: int = Field(
        default=16,
        ge=1,
        le=128,
        description="Threads for blocking Kubernetes API calls (reviews and actions).",
    )
    watch_timeout_seconds: int = Field(
        default=300,
        ge=1,
        le=3600,
        description="Length of one WATCH request before it is renewed.",
    )
    max_body_bytes: int = Field(
        default=65536,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Largest request body accepted; a larger one is refused with 413 before "
        "anything reads it.",
    )
    docs_ui: bool = Field(
        default=False,
        description="Serve the interactive API docs at `/docs` and `/redoc` (they load their "
        "scripts from a CDN); off by default. `/openapi.json` is always served.",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")

    revision: str = Field(
        default="",
        validation_alias=AliasChoices("GREENLIGHT_REVISION"),
        description="The Release revision this pod runs (set by the operator).",
    )
    color: str = Field(
        default="",
        validation_alias=AliasChoices("GREENLIGHT_COLOR"),
        description="The colour this pod runs in (set by the operator).",
    )

    @field_validator("namespaces", "auth_audiences", mode="before")
    @classmethod
    def _split_namespaces(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("namespaces")
    @classmethod
    def _check_namespaces(cls, value: list[str]) -> list[str]:
        for namespace in value:
            if not re.fullmatch(NAMESPACE_PATTERN, namespace) or len(namespace) > 63:
                raise ValueError(f"{namespace!r} is not a namespace name")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"{value!r} is not a log level")
        return level


@functools.cache
def get_settings() -> Settings:
    """The settings of this process, read from the environment on first use."""
    return Settings()
