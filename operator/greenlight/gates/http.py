"""The HTTP gate: one GET through a `Transport`, passing when the status is an expected one.

It knows nothing of how the request travels (DNS or the API server's proxy), which keeps it
free of the Kubernetes client and easy to test with a fake transport.
"""

from __future__ import annotations

import asyncio

from greenlight.gates.base import ProbeOutcome, ProbeTarget, Transport
from greenlight.models import HttpProbeSpec

KIND = "http"
SNIPPET_CHARS = 80
# The transport enforces the timeout; this margin only guards against one that does not.
_GUARD_SECONDS = 1.0


class HttpGate:
    kind = KIND

    def __init__(self, spec: HttpProbeSpec, transport: Transport) -> None:
        self.spec = spec
        self.transport = transport

    async def probe(self, target: ProbeTarget) -> ProbeOutcome:
        spec = self.spec
        request = f"GET {spec.path}"
        timeout = float(spec.timeout_seconds)
        try:
            async with asyncio.timeout(timeout + _GUARD_SECONDS):
                status, body = await self.transport.get(
                    namespace=target.namespace,
                    service=target.service,
                    port=spec.port or target.port,
                    path=spec.path,
                    timeout_seconds=timeout,
                )
        except TimeoutError:
            return ProbeOutcome(ok=False, message=f"{request}: timed out after {timeout:g}s")
        except ConnectionRefusedError:
            return ProbeOutcome(ok=False, message=f"{request}: connection refused")
        except ConnectionError as error:
            return ProbeOutcome(ok=False, message=f"{request}: {error or 'connection failed'}")
        if status in spec.expect_status:
            return ProbeOutcome(ok=True, message=f"{request} -> {status}")
        expected = ", ".join(str(code) for code in spec.expect_status)
        message = f"{request} -> {status} (expected {expected})"
        snippet = " ".join(body.split())[:SNIPPET_CHARS]
        return ProbeOutcome(ok=False, message=f"{message}: {snippet}" if snippet else message)
