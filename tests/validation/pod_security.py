"""The Kubernetes "restricted" Pod Security Standard, as a function over a pod spec.

It follows the published profile (baseline plus restricted controls) for Linux pods, so that a
chart change which would be refused by a namespace labelled
`pod-security.kubernetes.io/enforce: restricted` is caught here, offline.
"""

from __future__ import annotations

from typing import Any

# Volume types the restricted profile allows.
ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
# Sysctls the baseline profile allows.
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
SECCOMP_OK = {"RuntimeDefault", "Localhost"}


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        found += spec.get(key) or []
    return found


def violations(spec: dict[str, Any]) -> list[str]:
    """Every way `spec` (a PodSpec) breaks the restricted profile; empty when it meets it."""
    found: list[str] = []
    pod_sc: dict[str, Any] = spec.get("securityContext") or {}

    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            found.append(f"{field} is true")
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            found.append(
                f"volume {volume.get('name')!r} has type {sorted(kinds - ALLOWED_VOLUMES)}"
            )
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            found.append(f"sysctl {sysctl.get('name')!r} is not safe")
    found += _selinux(pod_sc, "pod")
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        found.append("pod: windowsOptions.hostProcess is true")
    if pod_sc.get("runAsUser") == 0:
        found.append("pod: runAsUser is 0")
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_OK:
        found.append(f"pod: seccompProfile is {pod_seccomp}")

    for container in _containers(spec):
        where = f"container {container.get('name')!r}"
        sc: dict[str, Any] = container.get("securityContext") or {}
        if sc.get("privileged"):
            found.append(f"{where}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"{where}: allowPrivilegeEscalation is not false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            found.append(f"{where}: capabilities do not drop ALL")
        added = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            found.append(f"{where}: adds capabilities {sorted(added)}")
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if non_root is not True:
            found.append(f"{where}: runAsNonRoot is not true")
        if sc.get("runAsUser") == 0:
            found.append(f"{where}: runAsUser is 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in SECCOMP_OK:
            found.append(f"{where}: seccompProfile is {seccomp} (RuntimeDefault or Localhost)")
        if sc.get("procMount") not in (None, "Default"):
            found.append(f"{where}: procMount is {sc.get('procMount')}")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            found.append(f"{where}: windowsOptions.hostProcess is true")
        found += _selinux(sc, where)
        apparmor = (sc.get("appArmorProfile") or {}).get("type")
        if apparmor not in (None, "RuntimeDefault", "Localhost"):
            found.append(f"{where}: appArmorProfile is {apparmor}")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                found.append(f"{where}: hostPort {port['hostPort']}")
    return found


def _selinux(sc: dict[str, Any], where: str) -> list[str]:
    options = sc.get("seLinuxOptions") or {}
    problems = []
    if options.get("type", "") not in SELINUX_TYPES:
        problems.append(f"{where}: seLinuxOptions.type is {options['type']}")
    if options.get("user") or options.get("role"):
        problems.append(f"{where}: seLinuxOptions sets user or role")
    return problems
