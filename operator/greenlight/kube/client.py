"""Where the connection to the API server comes from, decided once for Kopf and the client.

`load_api_client()` and the handlers' `connection_info()` read the same source in the same
order, so the operator's watches (Kopf) and its writes (the client) always talk to the same
cluster as the same user:

1. in a cluster (`KUBERNETES_SERVICE_HOST` set) and no kubeconfig given: the service account;
2. otherwise the kubeconfig given, else `$KUBECONFIG` (read now, never at import time, and
   possibly a `:`-separated list as kubectl allows), else `~/.kube/config`.

`resolve()` is that choice for everyone: the CLI asks it for kubectl's order instead
(`kubeconfig_first=True`: a kubeconfig that exists wins over the service account), so that a
pipeline job running in a pod talks to the cluster its kubeconfig names.

Nothing here touches the client's global default configuration.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Any, TypeAlias

import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

# The client is untyped; these names keep its use explicit.
ApiClient: TypeAlias = Any
Configuration: TypeAlias = Any
_config: Any = config

DEFAULT_KUBECONFIG = "~/.kube/config"
SERVICE_ACCOUNT_NAMESPACE = pathlib.Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")

# What the client's kubeconfig loader raises for a file it cannot use (it is not consistent).
_KUBECONFIG_PROBLEMS = (ConfigException, yaml.YAMLError, KeyError, TypeError, ValueError, OSError)


class KubeconfigProblem(Exception):
    """No usable connection settings; the message says which and what to do."""


@dataclasses.dataclass(frozen=True)
class Connection:
    configuration: Configuration
    namespace: str | None  # the context's (or service account's) namespace, if it names one


def resolve(
    *, kubeconfig: str | None = None, context: str | None = None, kubeconfig_first: bool = False
) -> Connection:
    """The connection settings, from the service account or the kubeconfig (see above)."""
    paths = _kubeconfig_paths(kubeconfig)
    existing = [path for path in paths if path.exists()]
    configuration = client.Configuration()
    if in_cluster(kubeconfig) and not (kubeconfig_first and existing):
        try:
            _config.load_incluster_config(client_configuration=configuration)
        except ConfigException as error:
            raise KubeconfigProblem(
                f"the in-cluster service account is not usable: {error}"
            ) from None
        return Connection(configuration, _service_account_namespace())
    if not existing:
        shown = os.pathsep.join(str(path) for path in paths)
        raise KubeconfigProblem(f"no kubeconfig at {shown}; pass --kubeconfig or set KUBECONFIG")
    joined = os.pathsep.join(str(path) for path in existing)
    namespace = _context_namespace(joined, context)
    try:
        _config.load_kube_config(
            config_file=joined,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except _KUBECONFIG_PROBLEMS as error:
        raise KubeconfigProblem(f"the kubeconfig {joined} is not usable: {error}") from None
    return Connection(configuration, namespace)


def load_api_client(
    *, kubeconfig: str | None = None, context: str | None = None, pool_size: int | None = None
) -> ApiClient:
    """A client of its own (never the global default), sized for `pool_size` threads."""
    configuration = resolve(kubeconfig=kubeconfig, context=context).configuration
    if pool_size is not None:
        configuration.connection_pool_maxsize = max(pool_size, 1)
    return client.ApiClient(configuration=configuration)


def in_cluster(kubeconfig: str | None = None) -> bool:
    return kubeconfig is None and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def _kubeconfig_paths(kubeconfig: str | None) -> list[pathlib.Path]:
    """The kubeconfig files to read: `~` expanded in each of a `:`-separated list."""
    raw = kubeconfig or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    return [pathlib.Path(part).expanduser() for part in raw.split(os.pathsep) if part]


def _service_account_namespace() -> str | None:
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _context_namespace(kubeconfig: str, context: str | None) -> str | None:
    """The namespace of `context` (default: the current one); refuses an unknown context."""
    try:
        contexts, current = _config.list_kube_config_contexts(config_file=kubeconfig)
    except _KUBECONFIG_PROBLEMS as error:
        raise KubeconfigProblem(f"the kubeconfig {kubeconfig} is not usable: {error}") from None
    if context is None:
        chosen: Any = current or {}
    else:
        by_name = {entry.get("name"): entry for entry in contexts or []}
        if context not in by_name:
            known = ", ".join(sorted(str(name) for name in by_name)) or "none"
            raise KubeconfigProblem(
                f"context {context!r} is not in the kubeconfig {kubeconfig} (known: {known}); "
                "pick one with --context"
            )
        chosen = by_name[context]
    namespace = (chosen.get("context") or {}).get("namespace")
    return str(namespace) if namespace else None
