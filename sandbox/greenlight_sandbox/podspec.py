"""What the sandbox's kubelet reads from a pod spec: environment, ports, probes, hooks.

Pure functions and value types, no I/O: a container's environment (plain values with
Kubernetes' ``$(VAR)`` expansion, and ``valueFrom.fieldRef`` for the pod's own fields; any
other source is a :class:`ContainerConfigError` naming the variable, as the kubelet's
``CreateContainerConfigError``), the ports a probe or hook names, and probe settings with
Kubernetes' defaults.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

Obj = dict[str, Any]

_EXPANSION = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_KEYED_FIELD = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")
_PLAIN_FIELDS = {
    "metadata.name": ("metadata", "name"),
    "metadata.namespace": ("metadata", "namespace"),
    "metadata.uid": ("metadata", "uid"),
    "spec.nodeName": ("spec", "nodeName"),
    "spec.serviceAccountName": ("spec", "serviceAccountName"),
}


class ContainerConfigError(ValueError):
    """The container's configuration cannot be honoured here (the message says why)."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' expansion: ``$(VAR)`` of a defined variable, ``$$`` -> ``$``; else as is."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _EXPANSION.sub(replace, text)


def field_value(pod: Obj, path: str, *, pod_ip: str, host_ip: str) -> str | None:
    """The value of a ``fieldRef`` (None for a path the kubelet does not provide)."""
    if path in _PLAIN_FIELDS:
        section, key = _PLAIN_FIELDS[path]
        return str((pod.get(section) or {}).get(key) or "")
    if path in ("status.podIP", "status.podIPs"):
        return pod_ip
    if path in ("status.hostIP", "status.hostIPs"):
        return host_ip
    keyed = _KEYED_FIELD.match(path)
    if keyed:
        return str(((pod.get("metadata") or {}).get(keyed.group(1)) or {}).get(keyed.group(2), ""))
    return None


def container_env(pod: Obj, container: Obj, *, pod_ip: str, host_ip: str) -> dict[str, str]:
    """The variables a container declares, in order, each expanded with those before it."""
    if container.get("envFrom"):
        raise ContainerConfigError(
            f"container {container.get('name')!r}: envFrom is not supported by the sandbox "
            "(list each variable under env)"
        )
    env: dict[str, str] = {}
    for variable in container.get("env") or []:
        name = str(variable.get("name", ""))
        source = variable.get("valueFrom")
        if source is None:
            env[name] = expand(str(variable.get("value", "")), env)
            continue
        field_ref = source.get("fieldRef") if isinstance(source, dict) else None
        value = None
        if isinstance(field_ref, dict) and len(source) == 1:
            path = str(field_ref.get("fieldPath", ""))
            value = field_value(pod, path, pod_ip=pod_ip, host_ip=host_ip)
        if value is None:
            kinds = sorted(source) if isinstance(source, dict) else [repr(source)]
            raise ContainerConfigError(
                f"container {container.get('name')!r}: the sandbox cannot set the variable "
                f"{name!r} from valueFrom {', '.join(kinds)} (only values and fieldRef of "
                "metadata.name, metadata.namespace, metadata.uid, metadata.labels['...'], "
                "metadata.annotations['...'], spec.nodeName, spec.serviceAccountName, "
                "status.podIP and status.hostIP)"
            )
        env[name] = value
    return env


def first_port(container: Obj) -> int | None:
    for port in container.get("ports") or []:
        if isinstance(port, dict) and isinstance(port.get("containerPort"), int):
            return int(port["containerPort"])
    return None


def resolve_port(container: Obj, port: Any) -> int | None:
    """A probe's or hook's port: a number, a numeric string, or a container port's name."""
    if isinstance(port, int):
        return port
    text = str(port or "")
    if text.isdigit():
        return int(text)
    for declared in container.get("ports") or []:
        if isinstance(declared, dict) and declared.get("name") == text:
            value = declared.get("containerPort")
            return int(value) if isinstance(value, int) else None
    return None


@dataclasses.dataclass(frozen=True)
class Action:
    """What a probe or a lifecycle hook does: an HTTP GET, a TCP connect, a command, a sleep."""

    kind: str  # "http", "tcp", "exec" or "sleep"
    port: Any = None
    path: str = "/"
    host: str = ""
    scheme: str = "HTTP"
    headers: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] = ()
    seconds: float = 0.0

    @classmethod
    def from_spec(cls, spec: Obj) -> Action | None:
        """The handler of a probe or hook spec; None when it has none the sandbox runs."""
        if isinstance(spec.get("httpGet"), dict):
            get = spec["httpGet"]
            headers = tuple(
                (str(h.get("name", "")), str(h.get("value", "")))
                for h in get.get("httpHeaders") or []
                if isinstance(h, dict)
            )
            return cls(
                "http",
                port=get.get("port"),
                path=str(get.get("path") or "/"),
                host=str(get.get("host") or ""),
                scheme=str(get.get("scheme") or "HTTP").upper(),
                headers=headers,
            )
        if isinstance(spec.get("tcpSocket"), dict):
            return cls(
                "tcp",
                port=spec["tcpSocket"].get("port"),
                host=str(spec["tcpSocket"].get("host") or ""),
            )
        if isinstance(spec.get("grpc"), dict):  # checked as a TCP connect: no gRPC client here
            return cls("tcp", port=spec["grpc"].get("port"))
        if isinstance(spec.get("exec"), dict):
            command: Sequence[Any] = spec["exec"].get("command") or []
            return cls("exec", command=tuple(str(part) for part in command))
        if isinstance(spec.get("sleep"), dict):
            return cls("sleep", seconds=float(spec["sleep"].get("seconds") or 0))
        return None


@dataclasses.dataclass(frozen=True)
class Probe:
    """A probe with Kubernetes' defaults."""

    action: Action
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def from_spec(cls, spec: Any) -> Probe | None:
        if not isinstance(spec, dict):
            return None
        action = Action.from_spec(spec)
        if action is None or action.kind == "sleep":
            return None

        def number(key: str, default: float, least: float) -> float:
            value = spec.get(key)
            return default if value is None else max(float(value), least)

        return cls(
            action,
            initial_delay=number("initialDelaySeconds", 0, 0),
            period=number("periodSeconds", 10, 1),
            timeout=number("timeoutSeconds", 1, 1),
            success_threshold=int(number("successThreshold", 1, 1)),
            failure_threshold=int(number("failureThreshold", 3, 1)),
        )
