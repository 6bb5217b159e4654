"""Service cluster IPs from an address pool, as the API server's Service registry allocates them.

Opt-in (``EmulatedCluster(service_addresses=AddressPool(SERVICE_NETWORK))``); without a pool
the store keeps its old default of a made-up ``10.96.x.y`` that nothing listens on. With one:

- a Service created without ``clusterIP`` gets a free address of the pool, in ``clusterIP``
  and ``clusterIPs``; one asking for a specific address keeps it when it is free and in the
  pool's range (422 otherwise, worded as kube-apiserver words it); ``None`` stays headless and
  ``ExternalName`` Services get none;
- an update that leaves ``clusterIP`` out keeps the allocated one; changing it is refused
  (the field is immutable);
- the address returns to the pool when the Service is gone (deleted, collected, or taken
  with its namespace).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from greenlight_sandbox.addresses import AddressesExhausted, AddressPool
from greenlight_sandbox.emulator.errors import ApiError, invalid
from greenlight_sandbox.emulator.resources import ResourceType

Obj = dict[str, Any]
HEADLESS = "None"


def _is_service(rtype: ResourceType) -> bool:
    return rtype.group == "" and rtype.plural == "services"


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _wants_address(spec: Obj) -> bool:
    return bool(spec.get("type", "ClusterIP") != "ExternalName")


class ClusterIPAllocator:
    """Allocates, keeps and releases Service cluster IPs (see the module docstring)."""

    def __init__(self, pool: AddressPool) -> None:
        self.pool = pool

    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        """Give a new Service its address (before it is stored); may raise 422."""
        spec = obj.get("spec")
        if not _is_service(rtype) or not isinstance(spec, dict) or not _wants_address(spec):
            return
        name = str(obj["metadata"]["name"])
        wanted = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
        if wanted == HEADLESS:
            spec["clusterIP"], spec["clusterIPs"] = HEADLESS, [HEADLESS]
            return
        if wanted:
            self._claim(name, str(wanted))
            address = str(wanted)
        else:
            try:
                address = self.pool.allocate()
            except AddressesExhausted as exc:
                raise ApiError(500, f"failed to allocate a serviceIP: {exc}") from None
        spec["clusterIP"], spec["clusterIPs"] = address, [address]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")

    def _claim(self, name: str, address: str) -> None:
        field = f'spec.clusterIPs: Invalid value: []string{{"{address}"}}'
        try:
            inside = ipaddress.IPv4Address(address) in self.pool.network
        except ValueError:
            raise invalid("Service", name, f"{field}: must be a valid IP address") from None
        if not inside:
            raise invalid(
                "Service",
                name,
                f"{field}: failed to allocate IP {address}: the provided IP ({address}) is not "
                f"in the valid range. The range of valid IPs is {self.pool.network}",
            )
        if address in self.pool:
            raise invalid(
                "Service",
                name,
                f"{field}: failed to allocate IP {address}: provided IP is already allocated",
            )
        self.pool.claim(address)

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        """Keep the allocated address through an update; refuse a change of it."""
        if not _is_service(rtype):
            return
        old_spec, new_spec = _spec(old), new.get("spec")
        allocated = old_spec.get("clusterIP")
        if not allocated or not isinstance(new_spec, dict) or not _wants_address(new_spec):
            return
        if not new_spec.get("clusterIP"):
            new_spec["clusterIP"] = allocated
            new_spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [allocated])
        elif new_spec["clusterIP"] != allocated:
            raise invalid(
                "Service",
                str(old["metadata"]["name"]),
                f'spec.clusterIPs[0]: Invalid value: []string{{"{new_spec["clusterIP"]}"}}: '
                "may not change once set",
            )
        elif not new_spec.get("clusterIPs"):
            new_spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [allocated])

    def on_change(self, rtype: ResourceType, old: Obj | None, new: Obj | None) -> None:
        """Release the address of a Service that is gone."""
        if _is_service(rtype) and new is None and old is not None:
            address = _spec(old).get("clusterIP")
            if address and address != HEADLESS:
                self.pool.release(str(address))
