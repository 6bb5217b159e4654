"""Builds the one `ApiClient` of the process, from in-cluster credentials or a kubeconfig.

`kubernetes` reads `$KUBECONFIG` when it is imported; this module reads it when the service
starts, so that the settings and the environment of that moment apply.
"""

from __future__ import annotations

import os

import kubernetes.client
import kubernetes.config

from greenlight_api.core.config import Settings


def create_api_client(settings: Settings) -> kubernetes.client.ApiClient:
    configuration = kubernetes.client.Configuration()
    if settings.kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        kubernetes.config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
    else:
        path = (
            settings.kubeconfig
            or os.environ.get("KUBECONFIG")
            or os.path.expanduser("~/.kube/config")
        )
        try:
            kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path,
                context=settings.context,
                client_configuration=configuration,
                persist_config=False,  # never write refreshed credentials back to the file
            )
        except kubernetes.config.ConfigException as exc:
            raise kubernetes.config.ConfigException(f"kubeconfig {path}: {exc}") from exc
    # Enough connections for every worker thread and every watch at once.
    configuration.connection_pool_maxsize = settings.kube_threads + 2 * (
        len(settings.namespaces) or 1
    )
    return kubernetes.client.ApiClient(configuration)
