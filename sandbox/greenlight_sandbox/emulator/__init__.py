"""An emulated Kubernetes API server: the sandbox's API server and every test's.

It extends ``kmock.KubernetesEmulator`` (kmock is pinned: this package touches its
internals) with what an operator needs from a real API server: resource versions, uids and
generations; watches that resume from a ``resourceVersion``; label and field selectors;
``generateName``; conflicts; the ``status`` subresource; merge, JSON and strategic-merge
patches; finalizers and garbage collection; discovery; TokenReview, SubjectAccessReview and
the service proxy; fault injection. It runs a real HTTP server in a background thread, so
Kopf, the ``kubernetes`` client, kubectl and other processes can all talk to it.

Public API (stable; extend it only additively)::

    from greenlight_sandbox.emulator import (
        ApiError, EmulatedCluster, FakeControllers, UserInfo, wait_for,
    )

    with EmulatedCluster(*, require_auth=False, host="127.0.0.1", graceful_pod_deletion=False,
                         service_addresses=None) as cluster:   # or the `kube_cluster` fixture
        cluster.url                       # "http://127.0.0.1:PORT"; also .host, .port, .running
        cluster.kubeconfig_path           # pathlib.Path; context "emulated", token "admin-token"
        cluster.kubeconfig(token="admin-token") -> dict      # the same document, e.g. for others
        cluster.api_client()              # kubernetes.client.ApiClient (close it / use `with`)
        cluster.apply_crd(path) -> dict   # create or replace the CRD(s) of a YAML file

        # Objects: every call goes over HTTP (watchers see it). Errors raise ApiError(.code).
        cluster.create(obj) -> dict       # namespace from metadata.namespace, else "default"
        cluster.get(api_version, plural, namespace, name) -> dict | None
        cluster.list(api_version, plural, namespace=None, label_selector=None,
                     field_selector=None) -> list[dict]
        cluster.patch(api_version, plural, namespace, name, patch, subresource=None, *,
                      content_type="application/merge-patch+json") -> dict
        cluster.replace(obj, subresource=None) -> dict                    # PUT
        cluster.delete(api_version, plural, namespace, name, *, grace_period_seconds=None,
                       preconditions=None) -> None
        cluster.history(api_version, plural, namespace, name) -> list[dict]  # oldest first

        # What the system under test did (the harness's own requests are not recorded):
        cluster.requests -> list[RecordedRequest]   # .method .path .query .status .time
        cluster.clear_requests()
        cluster.server_errors -> list[str]          # emulator bugs; the fixture fails on them

        # Faults for the system under test (never for the harness's own requests):
        cluster.inject_errors(*, method=None, path_regex, status, count=1,
                              retry_after=None, delay=0.0)
        cluster.inject_timeout(*, method=None, path_regex, seconds, count=1)
        cluster.clear_faults()

        # Service proxy, TokenReview and SubjectAccessReview:
        cluster.set_service_proxy(handler)  # handler(ns, svc, port|None, path) -> (status, body)
        cluster.set_pod_log_source(source)  # source(ns, pod, container) -> text | None
                                            # serves GET .../pods/{name}/log (kubectl logs)
        cluster.tokens[token] = UserInfo(username, groups, uid)
        cluster.allow(user_or_group, verb, resource, namespace=None, group="greenlight.dev")

    controllers = FakeControllers(cluster)
    controllers.mark_deployment_ready(namespace, name) -> dict
    controllers.mark_deployment_unready(namespace, name, ready_replicas=0) -> dict
    controllers.set_endpoints_for_service(namespace, service_name) -> dict | None
    controllers.endpoints_of_service(namespace, service_name) -> list[str]   # pod names
    controllers.endpoint_slice_name(service_name) -> str
    background = controllers.run_in_background(auto_ready=True, auto_endpoints=True,
                                               lag_seconds=0.0)
    background.wait_idle(timeout=5.0); background.errors; background.stop()  # or `with`

    wait_for(predicate, timeout=5.0, *, interval=0.005, message=None) -> the truthy result

    # Helpers that only the tests use live in tests/emulator (streams, builders):
    with open_watch(cluster, "/api/v1/namespaces/default/configmaps", **params) as stream:
        stream.take(2); stream.next(timeout=2.0); stream.rest()   # decoded watch events
    builders.deployment(name, namespace, labels=..., replicas=..., image=..., port=...),
    builders.service(...), builders.release(...), builders.configmap(...), RELEASE_CRD

Semantics worth knowing:

- ``resourceVersion`` is one global counter; lists carry it in ``metadata``. ``generation``
  starts at 1 and bumps on changes outside ``metadata`` (and outside ``status`` for types
  with the status subresource). Writes that change nothing make no version and no event.
- Watches (``watch=true``, ``True`` or ``1``): without ``resourceVersion`` (or with ``0``)
  ``ADDED`` for the current objects, then live events; with ``N`` only the events after N
  (an ``ERROR`` 410 if N is too old). Selectors apply per event (an object leaving the
  selection is ``DELETED`` for that watcher). ``timeoutSeconds`` ends the stream;
  ``sendInitialEvents=true`` ends the initial events with a ``BOOKMARK``.
- With the status subresource, create/PUT/PATCH of the main resource ignore ``status``, and
  ``/status`` writes change only ``status``. Strategic merge patches are accepted for
  built-in types only (415 for custom resources, as in Kubernetes).
- A ``default`` namespace exists from the start. Lists ignore ``limit`` (no pagination).
  Field selectors accept any dotted path. Server-side apply is not supported (415).
- Deleting an object with finalizers sets ``deletionTimestamp``; it goes when the last
  finalizer is removed. With ``graceful_pod_deletion=True``, deleting a pod that has a
  ``spec.nodeName`` and has not ended sets ``deletionTimestamp`` (now + grace) and
  ``deletionGracePeriodSeconds`` (the request's, else ``terminationGracePeriodSeconds``, else
  30) and leaves it for the kubelet to delete with grace 0, as a real API server does; garbage
  collection and namespace deletion go the same way. Off by default: pods go at once.
  Removing an object deletes its dependents (``ownerReferences`` by uid); deleting a
  namespace deletes what is in it. Namespaces need not exist.
- Services get a ``clusterIP``: a made-up ``10.96.x.y``, or with
  ``service_addresses=AddressPool(SERVICE_NETWORK)`` one of the pool's (kept if asked for and
  free, ``None`` stays headless, released when the Service goes; see ``clusterips``).
- Deployments default ``replicas`` to 1. No controllers run: use :class:`FakeControllers`
  (or the sandbox's). The emulator never creates Pods.
- Core ``v1`` Events and ``events.k8s.io/v1`` Events are stored separately.
- Any bearer token (or none) is accepted unless ``require_auth=True``; then only
  ``tokens`` (which always holds ``admin-token``, a ``system:masters`` member) are.
- Do not call the facade from the emulator's own thread (e.g. from a proxy handler it is
  fine: handlers run in worker threads).
"""

from greenlight_sandbox.emulator.auth import UserInfo
from greenlight_sandbox.emulator.background import BackgroundControllers
from greenlight_sandbox.emulator.client import resource_path
from greenlight_sandbox.emulator.cluster import EmulatedCluster
from greenlight_sandbox.emulator.controllers import FakeControllers
from greenlight_sandbox.emulator.emulator import GreenlightEmulator, RecordedRequest
from greenlight_sandbox.emulator.errors import ApiError
from greenlight_sandbox.emulator.waiting import wait_for

__all__ = [
    "ApiError",
    "BackgroundControllers",
    "EmulatedCluster",
    "FakeControllers",
    "GreenlightEmulator",
    "RecordedRequest",
    "UserInfo",
    "resource_path",
    "wait_for",
]
