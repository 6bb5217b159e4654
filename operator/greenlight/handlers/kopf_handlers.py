"""The Kopf handlers of the operator. They only translate Kopf's calls into `reconcile`.

- A timer ticks a Release only while it needs attention (a release in flight, a new
  generation, an action annotation, a pending scale-down): idle Releases cost nothing, and
  Kopf stops the timer as soon as the filter stops matching.
- An event handler keeps the releases-by-phase metric for every Release, idle ones too,
  without any API call.
- Event handlers on the Deployments and Services the operator manages notice one deleted
  under an idle Release (by hand, or by the garbage collector after a Release of the same
  name was deleted) and mark its Release for a recheck, so that its timer runs and repairs
  it within a tick: owned objects are watched, never polled.
- Start-up builds the shared runtime (client, gateway, gate transport, worker threads) once.

Handlers return nothing: status is ours, and Kopf must never write results into it.
`register()` puts them in a registry with given settings, so tests run the real handlers with
their own registry and a fast tick.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import logging
from typing import Any

import kopf

from greenlight import metrics, models
from greenlight.handlers import reconcile
from greenlight.kube import client as kube_client
from greenlight.kube import common as kube_common
from greenlight.kube import errors as kube_errors
from greenlight.kube import retry as kube_retry
from greenlight.kube import transports
from greenlight.kube.gateway import ClusterGateway
from greenlight.kube.target import ReleaseTarget
from greenlight.notify.channels import ChannelSource
from greenlight.notify.delivery import Delivery, Notifier
from greenlight.rollout import actions as act
from greenlight.rollout import decide as rollout
from greenlight.settings import OperatorSettings

RESOURCE = (models.GROUP, models.VERSION, models.PLURAL)
Logger = logging.Logger | logging.LoggerAdapter[Any]


def _needs_attention(body: kopf.Body, meta: kopf.Meta, **_: Any) -> bool:
    return rollout.needs_attention(
        generation=int(meta.get("generation") or 0),
        status=models.read_status(body)[0],
        annotations=dict(meta.annotations),
    )


def connection_info(
    *, kubeconfig: str | None = None, context: str | None = None
) -> kopf.ConnectionInfo:
    """The same connection as `load_api_client()`, as a `@kopf.on.login` handler returns it."""
    connection = kube_client.resolve(kubeconfig=kubeconfig, context=context)
    configuration = connection.configuration
    token: str | None = None
    username: str | None = None
    password: str | None = None
    # Calling this also refreshes an expiring token (exec plugins, service account files).
    credential = configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
    if credential:
        scheme, _, value = str(credential).partition(" ")
        if not value:
            token = scheme
        elif scheme.lower() == "basic":
            username, _, password = base64.b64decode(value).decode().partition(":")
        else:
            token = value
    return kopf.ConnectionInfo(
        server=str(configuration.host),
        ca_path=configuration.ssl_ca_cert or None,
        insecure=not configuration.verify_ssl,
        token=token,
        username=username or configuration.username or None,
        password=password or configuration.password or None,
        certificate_path=configuration.cert_file or None,
        private_key_path=configuration.key_file or None,
        proxy_url=configuration.proxy or None,
        default_namespace=connection.namespace,
    )


def register(
    registry: kopf.OperatorRegistry,
    config: OperatorSettings,
    *,
    kubeconfig: str | None = None,
) -> None:
    """Registers every handler of the operator in `registry`."""

    @kopf.on.startup(registry=registry)
    async def start(
        *, settings: kopf.OperatorSettings, memo: Any, logger: Logger, **_: Any
    ) -> None:
        # Progress and diff-base in annotations under our prefix: status stays ours alone.
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=models.GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=models.GROUP)
        settings.persistence.finalizer = models.FINALIZER
        settings.posting.level = logging.WARNING
        settings.watching.server_timeout = 300
        settings.networking.request_timeout = config.api_timeout_seconds * 6
        api_client = kube_client.load_api_client(
            kubeconfig=kubeconfig, pool_size=config.max_workers
        )
        executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.max_workers, thread_name_prefix="greenlight"
        )
        # Neither is shut down on cleanup: Kopf may still finish a tick after the cleanup
        # handlers. The process exit ends the idle threads and connections; an embedding caller
        # shuts them down after the operator returned (see the component tests' harness).
        memo["executor"] = executor
        memo["api_client"] = api_client
        gateway = ClusterGateway(api_client, config)
        channels, notifier = _notifications(config, gateway)
        memo["notifier"] = notifier
        memo["runtime"] = reconcile.Runtime(
            gateway=gateway,
            transport=transports.transport_for(config, api_client, executor=executor),
            executor=executor,
            channels=channels,
            notifier=notifier,
        )
        if config.metrics_port:
            metrics.start_metrics_server(config.metrics_port)
        logger.info("greenlight operator started: gates probe via %s", config.probe_via)

    @kopf.on.cleanup(registry=registry)
    async def stop_notifier(*, memo: Any, **_: Any) -> None:
        notifier: Notifier | None = memo.get("notifier")
        if notifier is not None:
            await asyncio.get_running_loop().run_in_executor(None, notifier.stop)

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(kubeconfig=kubeconfig)

    @kopf.timer(
        *RESOURCE,
        registry=registry,
        id="tick",
        interval=config.tick_seconds,
        when=_needs_attention,
        backoff=config.tick_seconds,
    )
    async def tick(*, body: kopf.Body, memo: Any, logger: Logger, **kwargs: Any) -> None:
        runtime: reconcile.Runtime = memo["runtime"]
        stopped = kwargs.get("stopped")  # Kopf's stop flag of this timer
        while True:
            await _tick_once(body=body, runtime=runtime, logger=logger)
            # Our own status write can make the filter stop matching while this tick still
            # runs; a change arriving meanwhile (a new spec) matches again, but Kopf does not
            # spawn a second timer while this one is alive. So a timer stopped only for the
            # filter keeps ticking itself while the live body still needs attention.
            if not stopped or stopped.reason != kopf.DaemonStoppingReason.FILTERS_MISMATCH:
                return
            if not _needs_attention(body=body, meta=body.meta):
                return
            await asyncio.sleep(config.tick_seconds)

    async def _tick_once(*, body: kopf.Body, runtime: reconcile.Runtime, logger: Logger) -> None:
        try:
            await reconcile.reconcile(body=body, runtime=runtime, logger=logger)
        except kube_errors.GatewayError as error:
            # Something in the cluster blocks the step; the next tick derives it again.
            raise kopf.TemporaryError(str(error), delay=config.tick_seconds * 5) from error
        except Exception as error:
            code = kube_retry.error_code(error)
            if code is None:
                raise
            # The client already retried with backoff; the tick is retried as a whole, and
            # every other Release carries on meanwhile.
            raise kopf.TemporaryError(
                f"Kubernetes API still failing after retries ({code}); the tick will be retried",
                delay=config.tick_seconds,
            ) from error

    managed = {kube_common.LABEL_MANAGED_BY: kube_common.MANAGER}

    # An owned Deployment or Service deleted under the operator: its Release is looked at now.
    @kopf.on.event("apps", "v1", "deployments", registry=registry, labels=managed)
    @kopf.on.event("", "v1", "services", registry=registry, labels=managed)
    async def recheck_owner(event: kopf.RawEvent, body: kopf.Body, memo: Any, **_: Any) -> None:
        if event.get("type") != "DELETED":
            return
        meta = body.get("metadata", {})
        owner = next(
            (
                ref
                for ref in meta.get("ownerReferences") or []
                if ref.get("kind") == models.KIND
                and str(ref.get("apiVersion", "")).startswith(f"{models.GROUP}/")
            ),
            None,
        )
        runtime: reconcile.Runtime | None = memo.get("runtime")
        if owner is None or runtime is None:
            return
        # Unique per deletion, so that a recheck already under way never removes this one.
        note = f"{body.get('kind', '')} {meta.get('name', '')} deleted ({meta.get('uid', '')})"
        await runtime.blocking(
            runtime.gateway.recheck, str(meta.get("namespace", "")), str(owner["name"]), note
        )

    @kopf.on.event(*RESOURCE, registry=registry)
    def count_phases(event: kopf.RawEvent, body: kopf.Body, **_: Any) -> None:
        meta = body.get("metadata", {})
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        if event.get("type") == "DELETED":
            metrics.forget(namespace, name)
        else:
            metrics.observe_phase(namespace, name, models.read_status(body)[0].phase)


def _notifications(
    config: OperatorSettings, gateway: ClusterGateway
) -> tuple[ChannelSource, Notifier]:
    """The channels of the operator's Secret and the background delivery of notifications; a
    delivery that fails for good posts a `NotificationFailed` Warning Event on its Release."""
    ref = config.notifications_secret_ref
    if ref is None:
        channels = ChannelSource(None)
    else:
        namespace, name = ref
        channels = ChannelSource(lambda: gateway.read_secret(namespace, name))

    def give_up(delivery: Delivery, why: str) -> None:
        if isinstance(delivery.subject, ReleaseTarget):
            notification = delivery.notification
            gateway.apply(
                delivery.subject,
                act.PostEvent(
                    type=act.EventType.WARNING,
                    reason=models.EventReason.NOTIFICATION_FAILED,
                    message=f"{notification.transition} of revision {notification.revision} "
                    f"was not delivered: {why}",
                ),
            )

    notifier = Notifier(
        channels,
        on_give_up=give_up,
        retry_seconds=config.notifications_retry_seconds,
        retry_base_seconds=config.notifications_retry_base_seconds,
        timeout_seconds=config.notifications_timeout_seconds,
        dashboard_url=config.dashboard_url,
    )
    return channels, notifier
