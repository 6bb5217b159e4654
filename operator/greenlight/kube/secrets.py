"""Reading a Secret: the notification channels the operator's administrator defines."""

from __future__ import annotations

import base64
import binascii

from greenlight.kube.common import Kube, quote


def read(kube: Kube, namespace: str, name: str) -> dict[str, str] | None:
    """The Secret's data, decoded as UTF-8 text; None when it does not exist."""
    body = kube.get(f"/api/v1/namespaces/{quote(namespace)}/secrets/{quote(name)}")
    if body is None:
        return None
    decoded: dict[str, str] = {}
    for key, value in (body.get("data") or {}).items():
        try:
            decoded[str(key)] = base64.b64decode(str(value)).decode().strip()
        except (binascii.Error, UnicodeDecodeError):
            continue  # not text: no URL nor key of ours
    for key, value in (body.get("stringData") or {}).items():
        decoded.setdefault(str(key), str(value).strip())
    return decoded
