"""What a notification says: a title and text for people, and the same facts as JSON for
webhooks, with their HMAC-SHA256 signature."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import shlex
from typing import Any

from greenlight import models

SIGNATURE_HEADER = "X-Greenlight-Signature"

_HEADLINES = {
    "AwaitingPromotion": "is waiting for promotion",
    "Switched": "switched traffic",
    "Succeeded": "succeeded",
    "RolledBack": "was rolled back",
    "Aborted": "was aborted",
    "Failed": "failed and needs a hand",
}


def facts(
    notification: models.PendingNotification,
    *,
    namespace: str,
    release: str,
    dashboard_url: str = "",
) -> dict[str, Any]:
    """Everything a person or a receiver needs to know and do, as plain JSON values."""
    gate = (
        {"name": notification.gate, "lastResult": notification.gate_result}
        if notification.gate
        else None
    )
    # The times as status stores them (RFC 3339).
    times = notification.model_dump(mode="json", include={"started_at", "time"})
    return {
        "id": f"{namespace}/{release}/{notification.key}",
        "release": release,
        "namespace": namespace,
        "transition": notification.transition,
        "revision": notification.revision,
        "images": list(notification.images),
        "phase": notification.phase,
        "reason": notification.reason,
        "gate": gate,
        "startedAt": times["started_at"],
        "at": times["time"],
        "durationSeconds": _duration(notification.started_at, notification.time),
        "commands": commands(notification.transition, namespace=namespace, release=release),
        "dashboard": dashboard_url or None,
    }


def commands(transition: str, *, namespace: str, release: str) -> list[str]:
    """The `greenlight` commands that act on this transition, first the likeliest."""
    where = f"{shlex.quote(release)} -n {shlex.quote(namespace)}"
    if transition == "AwaitingPromotion":
        return [f"greenlight promote {where}", f"greenlight abort {where}"]
    if transition == "Switched":
        return [f"greenlight status {where} -w", f"greenlight abort {where}"]
    if transition == "Succeeded":
        return [f"greenlight status {where}", f"greenlight rollback {where}"]
    return [f"greenlight status {where}", f"greenlight history {where}"]


def title(document: dict[str, Any]) -> str:
    headline = _HEADLINES.get(str(document["transition"]), str(document["transition"]))
    return (
        f"Release {document['namespace']}/{document['release']} revision "
        f"{document['revision']} {headline}"
    )


def text(document: dict[str, Any]) -> str:
    """The message for people: one fact per line."""
    lines = [f"Phase: {document['phase']}"]
    if document["reason"]:
        lines.append(f"Reason: {document['reason']}")
    gate = document.get("gate")
    if gate:
        lines.append(f"Failing gate: {gate['name']} (last result: {gate['lastResult']})")
    if document["images"]:
        lines.append(f"Images: {', '.join(document['images'])}")
    if document["durationSeconds"] is not None:
        lines.append(f"Took: {_human(document['durationSeconds'])}")
    lines.append(f"Act: {' | '.join(document['commands'])}")
    if document.get("dashboard"):
        lines.append(f"Dashboard: {document['dashboard']}")
    return "\n".join(lines)


def encode(document: dict[str, Any]) -> str:
    """The facts as the exact JSON text that is sent and signed."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def signature(key: str, payload: str) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the JSON text under the Secret's key."""
    digest = hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _duration(started: datetime.datetime | None, at: datetime.datetime | None) -> float | None:
    if started is None or at is None:
        return None
    return max((at - started).total_seconds(), 0.0)


def _human(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"
