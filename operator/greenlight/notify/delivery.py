"""Sending notifications on background threads, through apprise, retried for a bounded time.

`Notifier.submit()` only queues: a tick never waits for a channel. Worker threads send each
delivery, and one that fails is tried again after a delay that doubles from
`retry_base_seconds` (at most a minute) until `retry_seconds` have passed since it was queued;
then it counts as failed: the metric `greenlight_notifications_total{result="failed"}` and the
`on_give_up` callback (a Warning Event on the Release). Nothing is written to status from
here: what was decided was already removed from status before it was queued, so a delivery is
attempted by one operator process only (at most once), and a process stopped with deliveries
queued loses them.

JSON webhook channels (`json://`, `jsons://`) get the facts as JSON in the message, signed
with HMAC-SHA256 in the `X-Greenlight-Signature` header when the Secret holds a key; apprise
takes the header from the channel's URL (`+Header=value`), so each delivery builds its own
URL with its own signature. Every other channel gets the text for people.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable

import apprise

from greenlight import metrics, models
from greenlight.notify import message
from greenlight.notify.channels import REDACTOR, ChannelSource, guard_loggers, is_json_webhook

logger = logging.getLogger("greenlight.notify")

MAX_DELAY_SECONDS = 60.0

# (url, title, body) -> whether the channel accepted it. The default sends with apprise.
Sender = Callable[[str, str, str], bool]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Delivery:
    namespace: str
    release: str
    notification: models.PendingNotification
    # Whatever the caller needs to report a failure on the Release (opaque here).
    subject: object = None


@dataclasses.dataclass(order=True)
class _Queued:
    due: float
    order: int
    delivery: Delivery = dataclasses.field(compare=False)
    deadline: float = dataclasses.field(compare=False)
    attempts: int = dataclasses.field(default=0, compare=False)


def send_with_apprise(url: str, title: str, body: str) -> bool:
    notifier = apprise.Apprise()
    if not notifier.add(url):
        return False
    return bool(notifier.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT))


class Notifier:
    def __init__(
        self,
        channels: ChannelSource,
        *,
        on_give_up: Callable[[Delivery, str], None],
        retry_seconds: float = 300.0,
        retry_base_seconds: float = 2.0,
        timeout_seconds: float = 10.0,
        dashboard_url: str = "",
        workers: int = 2,
        send: Sender = send_with_apprise,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        guard_loggers()
        self._channels = channels
        self._on_give_up = on_give_up
        self._retry_seconds = retry_seconds
        self._retry_base = retry_base_seconds
        self._timeout = timeout_seconds
        self._dashboard_url = dashboard_url
        self._send = send
        self._monotonic = monotonic
        self._queue: list[_Queued] = []
        self._order = itertools.count()
        self._busy = 0
        self._stopped = False
        self._wake = threading.Condition()
        self._threads = [
            threading.Thread(target=self._work, name=f"greenlight-notify-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, delivery: Delivery) -> None:
        """Queues a delivery; returns at once."""
        now = self._monotonic()
        with self._wake:
            heapq.heappush(
                self._queue,
                _Queued(now, next(self._order), delivery, deadline=now + self._retry_seconds),
            )
            self._wake.notify()

    def idle(self) -> bool:
        """Nothing queued and nothing being sent."""
        with self._wake:
            return not self._queue and not self._busy

    def stop(self, timeout: float = 5.0) -> None:
        """Stops the workers; what is still queued is dropped (and logged)."""
        with self._wake:
            self._stopped = True
            dropped = len(self._queue)
            self._queue.clear()
            self._wake.notify_all()
        if dropped:
            logger.warning("%d notification(s) still queued were not sent", dropped)
        for thread in self._threads:
            thread.join(timeout)

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._stopped:
                    if self._queue:
                        wait = self._queue[0].due - self._monotonic()
                        if wait <= 0:
                            break
                        self._wake.wait(min(wait, 1.0))
                    else:
                        self._wake.wait(1.0)
                if self._stopped:
                    return
                item = heapq.heappop(self._queue)
                self._busy += 1
            try:
                self._attempt(item)
            except Exception:  # a bug in one delivery must not stop the others
                logger.exception(
                    "notification %s could not be handled", item.delivery.notification.key
                )
            finally:
                with self._wake:
                    self._busy -= 1

    def _attempt(self, item: _Queued) -> None:
        delivery = item.delivery
        notification = delivery.notification
        item.attempts += 1
        where = f"{delivery.namespace}/{delivery.release}"
        channels = self._channels.current()
        # Channels unknown for now (the Secret could not be read yet): a failed attempt.
        sent = False
        if channels is not None:
            url = channels.urls.get(notification.channel)
            if url is None:
                self._give_up(delivery, f"channel {notification.channel} is no longer defined")
                return
            sent = self._send_once(url, channels.signing_key(notification.channel), delivery)
        if sent:
            metrics.notification("sent")
            logger.info("%s: sent %s to channel %s", where, notification.key, notification.channel)
            return
        delay = min(self._retry_base * 2 ** (item.attempts - 1), MAX_DELAY_SECONDS)
        now = self._monotonic()
        if now + delay > item.deadline:
            self._give_up(
                delivery,
                f"channel {notification.channel} did not accept it in "
                f"{item.attempts} attempt(s) over {self._retry_seconds:g}s",
            )
            return
        metrics.notification("retried")
        logger.info(
            "%s: channel %s did not accept %s (attempt %d); retrying in %.1fs",
            where,
            notification.channel,
            notification.key,
            item.attempts,
            delay,
        )
        with self._wake:
            if self._stopped:
                return
            item.due = now + delay
            heapq.heappush(self._queue, item)
            self._wake.notify()

    def _send_once(self, url: str, key: str, delivery: Delivery) -> bool:
        document = message.facts(
            delivery.notification,
            namespace=delivery.namespace,
            release=delivery.release,
            dashboard_url=self._dashboard_url,
        )
        headline = message.title(document)
        params = {"cto": f"{self._timeout:g}", "rto": f"{self._timeout:g}"}
        if is_json_webhook(url):
            body = message.encode(document)
            if key:
                params[f"+{message.SIGNATURE_HEADER}"] = message.signature(key, body)
        else:
            body = message.text(document)
        try:
            return self._send(with_params(url, params), headline, body)
        except Exception as error:  # whatever a plugin raises is one failed attempt
            logger.warning(
                "sending to channel %s failed: %s",
                delivery.notification.channel,
                REDACTOR.redact(f"{type(error).__name__}: {error}"),
            )
            return False

    def _give_up(self, delivery: Delivery, why: str) -> None:
        metrics.notification("failed")
        logger.warning(
            "%s/%s: notification %s not sent: %s",
            delivery.namespace,
            delivery.release,
            delivery.notification.key,
            why,
        )
        try:
            self._on_give_up(delivery, why)
        except Exception as error:
            logger.warning("could not report a failed notification: %s", error)


def with_params(url: str, params: dict[str, str]) -> str:
    """`url` with these query parameters added (replacing ones of the same name)."""
    parts = urllib.parse.urlsplit(url)
    query = [
        (name, value)
        for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if name not in params
    ]
    query.extend(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
