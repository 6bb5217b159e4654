"""The notification channels: names and apprise URLs from the operator's Secret, signing keys,
and the redaction that keeps every URL out of logs and Events.

The Secret's keys are channel names and its values apprise URLs (`slack://...`,
`msteams://...`, `json://host/path`, ...). `hmac-key` signs every JSON webhook channel, and
`<channel>.hmac-key` signs that channel instead. The URLs carry tokens: they are never logged,
never put in an Event or status, and anything apprise or urllib3 would log with one in it is
redacted first.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping

HMAC_KEY = "hmac-key"
KEY_SUFFIX = f".{HMAC_KEY}"
JSON_SCHEMES = frozenset({"json", "jsons"})
REDACTED = "<redacted>"


@dataclasses.dataclass(frozen=True)
class Channels:
    urls: Mapping[str, str] = dataclasses.field(default_factory=dict)
    keys: Mapping[str, str] = dataclasses.field(default_factory=dict)  # channel -> signing key
    default_key: str = ""

    @classmethod
    def from_secret(cls, data: Mapping[str, str]) -> Channels:
        urls: dict[str, str] = {}
        keys: dict[str, str] = {}
        for name, value in data.items():
            if name == HMAC_KEY:
                continue
            if name.endswith(KEY_SUFFIX):
                keys[name.removesuffix(KEY_SUFFIX)] = value
            elif value:
                urls[name] = value
        return cls(urls=urls, keys=keys, default_key=data.get(HMAC_KEY, ""))

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.urls)

    def signing_key(self, channel: str) -> str:
        """The key that signs this channel's deliveries; "" for channels that are not JSON
        webhooks, or when the Secret holds none."""
        if not is_json_webhook(self.urls.get(channel, "")):
            return ""
        return self.keys.get(channel) or self.default_key

    def secrets(self) -> list[str]:
        """Every string that must never be shown: the URLs, their parts, the keys."""
        found: set[str] = set()
        for url in self.urls.values():
            found.update(_secret_parts(url))
        found.update(key for key in (*self.keys.values(), self.default_key) if key)
        # Longest first, so that a URL is replaced whole rather than part by part.
        return sorted(found, key=len, reverse=True)


def is_json_webhook(url: str) -> bool:
    return url.split("://", 1)[0].lower() in JSON_SCHEMES


def _secret_parts(url: str) -> set[str]:
    parts = {url}
    try:
        parsed = urllib.parse.urlsplit(url)
    except ValueError:
        return parts
    for part in (parsed.netloc, parsed.hostname or "", parsed.password or "", parsed.username):
        if part and len(part) >= 4:
            parts.add(part)
    for segment in parsed.path.split("/"):
        if len(segment) >= 8:  # tokens live in paths (Slack, Teams, Discord webhooks)
            parts.add(segment)
    if parsed.path and len(parsed.path) > 1:
        parts.add(parsed.path)
    return parts


class Redactor(logging.Filter):
    """Replaces every known secret in a log record's text; attached to the loggers that could
    print a channel's URL (apprise's, urllib3's, the operator's notification logger)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: list[str] = []

    def update(self, channels: Channels) -> None:
        with self._lock:
            self._secrets = sorted(
                set(self._secrets) | set(channels.secrets()), key=len, reverse=True
            )

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = list(self._secrets)
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot be formatted says nothing at all
            message = f"({record.levelname} record of {record.name})"
        record.msg, record.args = self.redact(message), ()
        return True


REDACTOR = Redactor()
_GUARDED = ("apprise", "urllib3.connectionpool", "greenlight.notify")


def guard_loggers() -> None:
    """Puts the redactor on every logger that could print a channel's URL (idempotent)."""
    for name in _GUARDED:
        logger = logging.getLogger(name)
        if REDACTOR not in logger.filters:
            logger.addFilter(REDACTOR)


class ChannelSource:
    """The channels of the Secret, read at most every `ttl` seconds and shared by all Releases.

    `read` returns the Secret's data (None: it does not exist) and may raise: then the last
    channels read stay in use, and before any was read the channels are unknown (None), so a
    Release is not failed for an outage of the API server.
    """

    def __init__(
        self,
        read: Callable[[], Mapping[str, str] | None] | None,
        *,
        ttl: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._channels: Channels | None = None if read else Channels()
        self._read_at: float | None = None

    def current(self) -> Channels | None:
        if self._read is None:
            return self._channels
        with self._lock:
            fresh = self._read_at is not None and self._monotonic() - self._read_at < self._ttl
            if fresh:
                return self._channels
        try:
            data = self._read()
        except Exception as error:
            logging.getLogger("greenlight.notify").warning(
                "could not read the notification Secret (keeping the channels known): %s",
                REDACTOR.redact(str(error)),
            )
            with self._lock:
                self._read_at = self._monotonic()
                return self._channels
        channels = Channels.from_secret(data or {})
        REDACTOR.update(channels)
        with self._lock:
            self._channels, self._read_at = channels, self._monotonic()
        return channels
