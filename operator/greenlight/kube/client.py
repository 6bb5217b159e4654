"""Where the connection to the API server comes from, decided once for Kopf and the client.

`load_api_client()` and `connection_info()` read the same source in the same order, so the
operator's watches (Kopf) and its writes (the client) always talk to the same cluster as the
same user:

1. in a cluster (`KUBERNETES_SERVICE_HOST` set) and no kubeconfig given: the service account;
2. otherwise the kubeconfig given, else `$KUBECONFIG` (read now, never at import time, and
   possibly a `:`-separated list as kubectl allows), else `~/.kube/config`.

Nothing here touches the client's global default configuration.
"""

from __future__ import annotations

import base64
import os
from typing import Any, TypeAlias

import kopf
from kubernetes import client, config

# The client is untyped; these names keep its use explicit.
ApiClient: TypeAlias = Any
Configuration: TypeAlias = Any
_config: Any = config

DEFAULT_KUBECONFIG = "~/.kube/config"


def load_api_client(
    *, kubeconfig: str | None = None, context: str | None = None, pool_size: int | None = None
) -> ApiClient:
    """A client of its own (never the global default), sized for `pool_size` threads."""
    configuration = _load_configuration(kubeconfig=kubeconfig, context=context)
    if pool_size is not None:
        configuration.connection_pool_maxsize = max(pool_size, 1)
    return client.ApiClient(configuration=configuration)


def connection_info(
    *, kubeconfig: str | None = None, context: str | None = None
) -> kopf.ConnectionInfo:
    """The same connection as `load_api_client()`, as a `@kopf.on.login` handler returns it."""
    configuration = _load_configuration(kubeconfig=kubeconfig, context=context)
    token: str | None = None
    username: str | None = None
    password: str | None = None
    # Calling this also refreshes an expiring token (exec plugins, service account files).
    credential = configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
    if credential:
        scheme, _, value = str(credential).partition(" ")
        if not value:
            token = scheme
        elif scheme.lower() == "basic":
            username, _, password = base64.b64decode(value).decode().partition(":")
        else:
            token = value
    return kopf.ConnectionInfo(
        server=str(configuration.host),
        ca_path=configuration.ssl_ca_cert or None,
        insecure=not configuration.verify_ssl,
        token=token,
        username=username or configuration.username or None,
        password=password or configuration.password or None,
        certificate_path=configuration.cert_file or None,
        private_key_path=configuration.key_file or None,
        proxy_url=configuration.proxy or None,
        default_namespace=_default_namespace(kubeconfig=kubeconfig, context=context),
    )


def in_cluster(kubeconfig: str | None = None) -> bool:
    return kubeconfig is None and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def kubeconfig_path(kubeconfig: str | None = None) -> str:
    """The kubeconfig path(s) to read, with `~` expanded in each of a `:`-separated list."""
    raw = kubeconfig or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    return os.pathsep.join(os.path.expanduser(part) for part in raw.split(os.pathsep) if part)


def _load_configuration(*, kubeconfig: str | None, context: str | None) -> Configuration:
    configuration = client.Configuration()
    if in_cluster(kubeconfig):
        _config.load_incluster_config(client_configuration=configuration)
    else:
        _config.load_kube_config(
            config_file=kubeconfig_path(kubeconfig),
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    return configuration


def _default_namespace(*, kubeconfig: str | None, context: str | None) -> str | None:
    if in_cluster(kubeconfig):
        path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
        try:
            with open(path, encoding="utf-8") as file:
                return file.read().strip() or None
        except OSError:
            return None
    contexts, active = _config.list_kube_config_contexts(config_file=kubeconfig_path(kubeconfig))
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return str(namespace) if namespace else None
