"""The sample app's settings, read from the environment when the app is built.

The variable names are the fields' names in upper case, with no prefix: `APP_VERSION` is the
image's own, `GREENLIGHT_COLOR` and `GREENLIGHT_REVISION` are set by the operator on every pod
it runs, `POD_NAME`/`HOSTNAME` name the pod, and the `SAMPLE_*` knobs make the app misbehave.
A bad value stops the app at start with a message naming the variable.
"""

from __future__ import annotations

import socket

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """An environment variable has a value the app cannot use."""


class Settings(BaseSettings):
    # No prefix: the names are fixed by the operator and the manifests. An empty value counts
    # as unset, since manifests often template a variable to "" to switch it off.
    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", frozen=True, env_ignore_empty=True
    )

    app_version: str = Field(default="dev", description="The version this build reports.")
    greenlight_color: str = Field(default="unknown", description="Set by the operator.")
    greenlight_revision: str = Field(default="0", description="Set by the operator.")
    pod_name: str | None = Field(default=None, description="The pod's name, if given.")
    hostname: str | None = Field(default=None, description="The pod's name on Kubernetes.")
    sample_startup_seconds: float = Field(
        default=0.0,
        ge=0,
        le=3600,
        allow_inf_nan=False,
        description="`/readyz` answers 503 for this long after start.",
    )
    sample_never_ready: bool = Field(default=False, description="`/readyz` always answers 503.")
    sample_fail_after_seconds: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="From this long after start, `/`, `/healthz` and `/readyz` answer 500.",
    )
    sample_error_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="This share of `/` requests answer 500 (every n-th, deterministically).",
    )
    sample_drain_seconds: float = Field(
        default=2.0,
        ge=0,
        le=300,
        allow_inf_nan=False,
        description="After SIGTERM, keep serving with `/readyz` at 503 this long, then stop.",
    )

    @property
    def pod(self) -> str:
        return self.pod_name or self.hostname or socket.gethostname()


def load_settings() -> Settings:
    """Settings from the process's environment.

    Raises `SettingsError` with one line per bad variable, naming it and its value.
    """
    try:
        return Settings()
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            name = ".".join(str(part) for part in problem["loc"]).upper()
            lines.append(f"{name}={problem['input']!r}: {problem['msg']}")
        raise SettingsError("bad environment: " + "; ".join(lines)) from None
