"""The operator's settings, read from `GREENLIGHT_*` environment variables when it starts.

Every setting is documented in the README's "Operator settings" table; keep the two in step.
"""

from __future__ import annotations

import enum
import functools
import os

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProbeVia(enum.StrEnum):
    DIRECT = "direct"  # http://<service>.<namespace>.svc:<port><path>, from inside the cluster
    APISERVER = "apiserver"  # through the API server's service proxy, from anywhere


def _running_in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GREENLIGHT_", extra="ignore")

    probe_via: ProbeVia = Field(
        default_factory=lambda: ProbeVia.DIRECT if _running_in_cluster() else ProbeVia.APISERVER,
        description="How gates reach workloads: `direct` by Service DNS (the default in a "
        "cluster) or `apiserver` through the API server's service proxy (the default outside).",
    )
    tick_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often a Release in flight is observed and advanced. Idle Releases "
        "are never polled.",
    )
    cluster_domain: str = Field(
        default="cluster.local", description="DNS domain of Services for direct probes."
    )
    metrics_port: int = Field(
        default=9090, ge=0, le=65535, description="Port of `/metrics`; 0 turns it off."
    )
    api_retries: int = Field(
        default=5, ge=0, le=20, description="Retries of a Kubernetes API call on 409/429/5xx."
    )
    api_retry_base_seconds: float = Field(
        default=0.2, gt=0, le=10, description="First retry delay; doubles each retry."
    )
    api_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Timeout of one Kubernetes API call."
    )
    max_workers: int = Field(
        default=20,
        ge=1,
        le=200,
        description="Threads shared by all Releases for blocking API calls and probes.",
    )

    notifications_secret: str = Field(
        default="",
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?/[-.a-z0-9]+)?$",
        description="`namespace/name` of the Secret whose keys are notification channels "
        "(values: apprise URLs), plus optional `hmac-key` and `<channel>.hmac-key` signing "
        "keys. Empty: no channels, and a Release that subscribes to one is invalid.",
    )
    dashboard_url: str = Field(
        default="",
        description="The dashboard's URL; notifications link to the Release there when set.",
    )
    notifications_retry_seconds: float = Field(
        default=300.0,
        gt=0,
        le=86400,
        description="How long a notification is retried before it counts as failed (a "
        "Warning Event on the Release).",
    )
    notifications_retry_base_seconds: float = Field(
        default=2.0, gt=0, le=600, description="First retry delay of a notification; doubles."
    )
    notifications_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Timeout of one notification attempt."
    )

    @property
    def notifications_secret_ref(self) -> tuple[str, str] | None:
        """(namespace, name) of the notification Secret, or None when not set."""
        if not self.notifications_secret:
            return None
        namespace, _, name = self.notifications_secret.partition("/")
        return namespace, name


@functools.cache
def get_settings() -> OperatorSettings:
    return OperatorSettings()
