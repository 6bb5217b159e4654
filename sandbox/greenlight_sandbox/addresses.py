"""Loopback addresses standing in for pod IPs and Service cluster IPs.

Linux routes all of 127.0.0.0/8 to the loopback interface, so each pod can listen on an
address of its own (``127.0.x.y``, never ``127.0.0.x`` so that ``127.0.0.1`` stays free for
everything else) and each Service's proxy on another (``127.1.x.y``): two pods may both listen
on port 8080, as they do on a cluster, and a Service keeps its address for its whole life.
Released addresses are reused last, like a real IPAM, so a connection aimed at a pod that has
gone meets nothing rather than a newer pod.
"""

from __future__ import annotations

import collections
import ipaddress
import threading

POD_NETWORK = "127.0.0.0/16"
SERVICE_NETWORK = "127.1.0.0/16"


class AddressesExhausted(RuntimeError):
    pass


class AddressPool:
    """Hands out the host addresses of ``network``, skipping ``127.0.0.0/24``; thread-safe."""

    def __init__(self, network: str) -> None:
        self.network = ipaddress.IPv4Network(network)
        reserved = ipaddress.IPv4Network("127.0.0.0/24")
        self._free = collections.deque(
            str(address)
            for address in self.network.hosts()
            if address not in reserved and not str(address).endswith((".0", ".255"))
        )
        self._taken: set[str] = set()
        self._lock = threading.Lock()

    def allocate(self) -> str:
        with self._lock:
            if not self._free:
                raise AddressesExhausted(f"No free address left in {self.network}.")
            address = self._free.popleft()
            self._taken.add(address)
            return address

    def claim(self, address: str) -> None:
        """Mark ``address`` as taken (one already written in an object, kept on restart)."""
        with self._lock:
            if ipaddress.IPv4Address(address) not in self.network:
                raise ValueError(f"{address} is outside {self.network}.")
            if address in self._free:
                self._free.remove(address)
            self._taken.add(address)

    def release(self, address: str) -> None:
        with self._lock:
            if address in self._taken:
                self._taken.discard(address)
                self._free.append(address)  # reused last

    def __contains__(self, address: object) -> bool:
        with self._lock:
            return address in self._taken
