"""The sandbox's Deployment controller: each Deployment's pods, rollouts and status.

A :class:`DeploymentController` is a :class:`~greenlight_sandbox.informer.ControllerThread`
watching Deployments and Pods in every namespace. For each Deployment it keeps
``spec.replicas`` pods of the current pod template and writes the status that ``kubectl
rollout status`` and the operator read.

One simplification: there are no ReplicaSet objects. Pods are owned directly by their
Deployment (an ownerReference with ``controller: true``, so garbage collection removes them
with it) and carry the label ``pod-template-hash`` (10 characters of ``[a-z0-9]`` derived from
the template); pods whose hash is the current template's are the "new ReplicaSet", the others
"old ReplicaSets". Pods are named ``<deployment>-<hash>-<5 characters>``, as their ReplicaSet
would name them, and conditions name the ReplicaSet that would exist (``<deployment>-<hash>``).
Pods are found by their ownerReference only: orphans matching the selector are not adopted.

Rollouts follow the Deployment controller's rules, one step per pass as it does:

- ``RollingUpdate`` (``maxSurge`` and ``maxUnavailable``, 25% by default, rounded up and
  down; both 0 means one unavailable): new pods are added while the total stays within
  ``replicas + maxSurge``; old pods go, unavailable ones first, while at least ``replicas -
  maxUnavailable`` pods stay available.
- ``Recreate``: every old pod is deleted, and new ones are created once no old pod is left,
  not even a terminating one.
- Scaling down deletes pods not yet on a node, then pending, then not ready ones, then those
  restarted most, then the newest.
- ``paused``: pods are left as they are.

Pods being deleted (``deletionTimestamp``) or ended do not count anywhere. A pod is available
once Ready for ``minReadySeconds``. The status holds ``observedGeneration``, ``replicas``,
``updatedReplicas``, ``readyReplicas``, ``availableReplicas``, ``unavailableReplicas`` (zeros
omitted, as the API server's omitempty does) and the conditions ``Available``
(``MinimumReplicasAvailable``/``MinimumReplicasUnavailable``) and ``Progressing``
(``NewReplicaSetCreated``, ``ReplicaSetUpdated``, ``NewReplicaSetAvailable``,
``ProgressDeadlineExceeded`` once ``progressDeadlineSeconds`` pass without progress,
``DeploymentPaused``/``DeploymentResumed``), and is written only when it changes.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import hashlib
import json
import logging
import math
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from greenlight_sandbox.emulator.store import now_rfc3339
from greenlight_sandbox.informer import ControllerThread, Key, key_of

if TYPE_CHECKING:
    from greenlight_sandbox.emulator.cluster import EmulatedCluster

logger = logging.getLogger(__name__)
Obj = dict[str, Any]

DEPLOYMENTS = ("apps/v1", "deployments")
PODS = ("v1", "pods")
HASH_LABEL = "pod-template-hash"
# No vowels, as Kubernetes' own names: a random suffix never spells a word.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_WAIT_FOR_OWN_WRITES_SECONDS = 5.0
_RETRY_SECONDS = 0.5


def template_hash(template: Obj) -> str:
    """10 characters of ``[a-z0-9]`` that change whenever the pod template does."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_ALPHABET[byte % len(_ALPHABET)] for byte in digest[:10])


def _suffix() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(5))


def _seconds(timestamp: Any) -> float | None:
    """A RFC 3339 timestamp as a Unix time (None if absent or malformed)."""
    try:
        moment = datetime.datetime.strptime(str(timestamp), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None
    return moment.timestamp()


def _scaled(value: Any, replicas: int, *, round_up: bool) -> int:
    """``maxSurge``/``maxUnavailable``: a number, or a percentage of ``replicas``."""
    if isinstance(value, str) and value.endswith("%"):
        share = replicas * float(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return max(int(value), 0)


def _ready_since(pod: Obj) -> float | None:
    """When the pod became Ready (None if it is not)."""
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            return _seconds(condition.get("lastTransitionTime")) or 0.0
    return None


def _controller_ref(pod: Obj) -> Obj | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "Deployment":
            return dict(ref)
    return None


class _Plan:
    """One Deployment's pods as a pass sees them."""

    def __init__(self, deployment: Obj, owned: list[Obj], now: float) -> None:
        spec = deployment.get("spec") or {}
        self.replicas = 1 if spec.get("replicas") is None else int(spec["replicas"])
        self.hash = template_hash(spec.get("template") or {})
        self.min_ready = float(spec.get("minReadySeconds") or 0)
        self.now = now
        self.active = [
            pod
            for pod in owned
            if not pod["metadata"].get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        self.new = [pod for pod in self.active if self.is_new(pod)]
        self.old = [pod for pod in self.active if not self.is_new(pod)]
        # Old pods still running, terminating ones included (what Recreate waits for).
        self.old_running = [
            pod
            for pod in owned
            if not self.is_new(pod)
            and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        strategy = spec.get("strategy") or {}
        self.recreate = strategy.get("type") == "Recreate"
        rolling = strategy.get("rollingUpdate") or {}
        self.max_surge = _scaled(rolling.get("maxSurge", "25%"), self.replicas, round_up=True)
        self.max_unavailable = _scaled(
            rolling.get("maxUnavailable", "25%"), self.replicas, round_up=False
        )
        if self.max_surge == 0 and self.max_unavailable == 0:
            self.max_unavailable = 1
        if self.recreate or self.replicas == 0:
            self.max_surge = self.max_unavailable = 0

    def is_new(self, pod: Obj) -> bool:
        return bool((pod["metadata"].get("labels") or {}).get(HASH_LABEL) == self.hash)

    def available(self, pod: Obj) -> bool:
        since = _ready_since(pod)
        return since is not None and (self.min_ready <= 0 or since + self.min_ready <= self.now)

    def available_count(self, pods: list[Obj]) -> int:
        return sum(1 for pod in pods if self.available(pod))

    def ready_count(self, pods: list[Obj]) -> int:
        return sum(1 for pod in pods if _ready_since(pod) is not None)

    def next_availability(self) -> float | None:
        """When a Ready pod not yet available for ``minReadySeconds`` will be."""
        moments = [
            since + self.min_ready
            for pod in self.active
            if (since := _ready_since(pod)) is not None and since + self.min_ready > self.now
        ]
        return min(moments) if moments else None


def deletion_order(pods: list[Obj], seen: dict[str, int]) -> list[Obj]:
    """Pods in the order a scale-down takes them: unscheduled, pending, not ready, most
    restarted, newest first."""
    phases = {"Pending": 0, "Unknown": 1, "Running": 2}

    def rank(pod: Obj) -> tuple[int, int, int, int, float, int]:
        status = pod.get("status") or {}
        restarts = sum(
            int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or []
        )
        created = _seconds(pod["metadata"].get("creationTimestamp")) or 0.0
        return (
            1 if (pod.get("spec") or {}).get("nodeName") else 0,
            phases.get(str(status.get("phase") or "Pending"), 0),
            0 if _ready_since(pod) is None else 1,
            -restarts,
            -created,
            -seen.get(str(pod["metadata"].get("uid")), 0),
        )

    return sorted(pods, key=rank)


def _condition(kind: str, status: str, reason: str, message: str, moment: str) -> Obj:
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": moment,
        "lastTransitionTime": moment,
        "reason": reason,
        "message": message,
    }


def _merged(current: Obj | None, wanted: Obj, *, refresh: bool = False) -> Obj:
    """``wanted`` as the condition list keeps it: unchanged if its status and reason are
    (unless ``refresh``), keeping ``lastTransitionTime`` while the status is unchanged."""
    if current is None:
        return wanted
    same_status = current.get("status") == wanted["status"]
    if same_status and current.get("reason") == wanted["reason"] and not refresh:
        return current
    if same_status:
        return {**wanted, "lastTransitionTime": current.get("lastTransitionTime")}
    return wanted


class DeploymentController(ControllerThread):
    """The Deployment controller of the sandbox (see the module docstring)."""

    name = "deployment-controller"

    def __init__(self, cluster: EmulatedCluster) -> None:
        super().__init__(cluster)
        self._deployments = self.informer("/apis/apps/v1/deployments")
        self._pods = self.informer("/api/v1/pods")
        self._deployments.on_change(self._on_deployment)
        self._pods.on_change(self._on_pod)
        self._syncing: set[Key] = set()
        self._again: set[Key] = set()
        self._timers: dict[Key, tuple[float, asyncio.TimerHandle]] = {}
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._seen: dict[str, int] = {}  # pod uid -> the order this controller first saw it

    # --- reacting --------------------------------------------------------------------------

    def _on_deployment(self, event_type: str, deployment: Obj, old: Obj | None) -> None:
        key = key_of(deployment)
        if event_type == "DELETED":
            timer = self._timers.pop(key, None)
            if timer is not None:
                timer[1].cancel()
        else:
            self.enqueue(key)
        self._wake_waiters()

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        uid = str(pod["metadata"].get("uid"))
        if event_type == "DELETED":
            self._seen.pop(uid, None)
        else:
            self._seen.setdefault(uid, len(self._seen) + 1)
        owner = _controller_ref(pod)
        if owner is not None:
            self.enqueue((str(pod["metadata"].get("namespace") or ""), str(owner.get("name"))))
        self._wake_waiters()

    def enqueue(self, key: Key) -> None:
        """Sync the Deployment ``key`` soon; passes for one Deployment never overlap."""
        if key in self._syncing:
            self._again.add(key)
            return
        self._syncing.add(key)
        self.spawn(self._sync_loop(key))

    async def _sync_loop(self, key: Key) -> None:
        try:
            while True:
                self._again.discard(key)
                try:
                    await self._sync(key)
                except Exception as error:  # e.g. the API server briefly away: try again
                    logger.warning("Syncing the Deployment %s/%s failed: %r", *key, error)
                    if self.cluster.running:
                        self._schedule(key, time.time() + _RETRY_SECONDS)
                    return
                if key not in self._again:
                    return
        finally:
            self._syncing.discard(key)

    def _schedule(self, key: Key, at: float) -> None:
        """Sync ``key`` again at Unix time ``at`` (the earliest of the times asked for)."""
        current = self._timers.get(key)
        if current is not None and current[0] <= at and not current[1].cancelled():
            return
        if current is not None:
            current[1].cancel()
        handle = self.loop.call_later(max(at - time.time(), 0) + 0.01, self._fire, key)
        self._timers[key] = (at, handle)

    def _fire(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.enqueue(key)

    def _wake_waiters(self) -> None:
        for predicate, future in list(self._waiters):
            if not future.done() and predicate():
                future.set_result(None)

    async def _until(self, predicate: Callable[[], bool]) -> None:
        """Wait until the watches show what we wrote (or give up after a few seconds)."""
        if predicate():
            return
        future: asyncio.Future[None] = self.loop.create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(future, _WAIT_FOR_OWN_WRITES_SECONDS)
        except TimeoutError:
            logger.warning("The %s did not see its own writes in time.", self.name)
        finally:
            self._waiters.remove(entry)

    # --- one pass --------------------------------------------------------------------------

    async def _sync(self, key: Key) -> None:
        deployment = self._deployments.cache.get(key)
        if deployment is None or deployment["metadata"].get("deletionTimestamp"):
            return
        uid = deployment["metadata"].get("uid")
        namespace = key[0]
        spec = deployment.get("spec") or {}

        def owned() -> list[Obj]:
            return [
                pod
                for pod in self._pods.items(namespace)
                if (_controller_ref(pod) or {}).get("uid") == uid
            ]

        plan = _Plan(deployment, owned(), time.time())
        if not spec.get("paused"):
            await self._step(deployment, plan)
        plan = _Plan(deployment, owned(), time.time())
        await self._write_status(deployment, plan)
        available_at = plan.next_availability()
        if available_at is not None:
            self._schedule(key, available_at)

    async def _step(self, deployment: Obj, plan: _Plan) -> None:
        """One step of the rollout, as the Deployment controller takes one per pass."""
        if plan.recreate:
            if plan.old:
                await self._delete(deployment, plan.old)
            elif not plan.old_running:  # not even a terminating one: start the new pods
                await self._scale_new(deployment, plan, plan.replicas)
            return
        if not plan.old:
            await self._scale_new(deployment, plan, plan.replicas)
            return
        # Surge: more new pods while the total stays within replicas + maxSurge.
        room = plan.replicas + plan.max_surge - len(plan.active)
        wanted_new = min(plan.replicas, len(plan.new) + max(room, 0))
        if wanted_new > len(plan.new):
            await self._scale_new(deployment, plan, wanted_new)
            return
        if len(plan.new) > plan.replicas:
            await self._scale_new(deployment, plan, plan.replicas)
            return
        # Old pods go while enough stay available: unavailable ones first.
        min_available = plan.replicas - plan.max_unavailable
        new_unavailable = len(plan.new) - plan.available_count(plan.new)
        budget = len(plan.active) - min_available - new_unavailable
        if budget <= 0:
            return
        ordered = deletion_order(plan.old, self._seen)
        unhealthy = [pod for pod in ordered if not plan.available(pod)][:budget]
        healthy = [pod for pod in ordered if plan.available(pod)]
        spare = plan.available_count(plan.active) - min_available
        doomed = unhealthy + healthy[: max(min(spare, budget - len(unhealthy)), 0)]
        if doomed:
            await self._delete(deployment, doomed)

    async def _scale_new(self, deployment: Obj, plan: _Plan, count: int) -> None:
        if count > len(plan.new):
            await self._create(deployment, plan.hash, count - len(plan.new))
        elif count < len(plan.new):
            await self._delete(
                deployment, deletion_order(plan.new, self._seen)[: len(plan.new) - count]
            )

    async def _create(self, deployment: Obj, pod_hash: str, count: int) -> None:
        created = await asyncio.gather(
            *(self._create_one(deployment, pod_hash) for _ in range(count))
        )
        keys = [key_of(pod) for pod in created if pod is not None]
        await self._until(lambda: all(key in self._pods.cache for key in keys))

    async def _create_one(self, deployment: Obj, pod_hash: str) -> Obj | None:
        body = pod_for(deployment, pod_hash)
        for _ in range(5):  # another suffix if the name is taken
            body["metadata"]["name"] = f"{body['metadata']['generateName']}{_suffix()}"
            created = await self.call(self.cluster.create, body)
            if created is not None:
                return created
        return None

    async def _delete(self, deployment: Obj, pods: list[Obj]) -> None:
        async def delete(pod: Obj) -> None:
            meta = pod["metadata"]
            await self.call(
                self.cluster.delete,
                *PODS,
                meta.get("namespace"),
                meta["name"],
                preconditions={"uid": str(meta["uid"])},
            )

        await asyncio.gather(*(delete(pod) for pod in pods))

        def seen() -> bool:
            """Every pod is gone, or the cache shows it terminating."""
            for pod in pods:
                current = self._pods.cache.get(key_of(pod)) or {"metadata": {}}
                same = current["metadata"].get("uid") == pod["metadata"]["uid"]
                if same and not current["metadata"].get("deletionTimestamp"):
                    return False
            return True

        await self._until(seen)

    # --- status ----------------------------------------------------------------------------

    async def _write_status(self, deployment: Obj, plan: _Plan) -> None:
        meta = deployment["metadata"]
        spec = deployment.get("spec") or {}
        current: Obj = deployment.get("status") or {}
        available = plan.available_count(plan.active)
        counts = {
            "replicas": len(plan.active),
            "updatedReplicas": len(plan.new),
            "readyReplicas": plan.ready_count(plan.active),
            "availableReplicas": available,
            "unavailableReplicas": max(max(len(plan.active), plan.replicas) - available, 0),
        }
        status: Obj = {
            "observedGeneration": meta.get("generation", 1),
            **{name: value for name, value in counts.items() if value},
        }
        conditions = {c.get("type"): c for c in current.get("conditions") or []}
        moment = now_rfc3339()
        min_available = plan.replicas - plan.max_unavailable
        if available >= min_available:
            wanted = _condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                moment,
            )
        else:
            wanted = _condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                moment,
            )
        available_condition = _merged(conditions.get("Available"), wanted)
        progressing = self._progressing(
            deployment, plan, status, conditions.get("Progressing"), moment
        )
        status["conditions"] = [available_condition, progressing]
        comparable = {k: v for k, v in current.items() if k not in ("collisionCount",)}
        if comparable != status:
            patch = {**{name: None for name in counts}, **status}
            written = await self.call(
                self.cluster.patch,
                *DEPLOYMENTS,
                meta.get("namespace"),
                meta["name"],
                {"status": patch},
                "status",
            )
            if written is not None:
                version = int(written["metadata"]["resourceVersion"])
                key = key_of(deployment)

                def seen() -> bool:
                    cached = self._deployments.cache.get(key)
                    return cached is None or int(cached["metadata"]["resourceVersion"]) >= version

                await self._until(seen)
        if (
            progressing.get("status") == "True"
            and progressing.get("reason") != "NewReplicaSetAvailable"
        ):
            since = _seconds(progressing.get("lastUpdateTime")) or time.time()
            deadline = float(spec.get("progressDeadlineSeconds") or 600)
            self._schedule(key_of(deployment), since + deadline)

    def _progressing(
        self, deployment: Obj, plan: _Plan, status: Obj, current: Obj | None, moment: str
    ) -> Obj:
        """The Progressing condition, following the Deployment controller's rules."""
        spec = deployment.get("spec") or {}
        name = f"{deployment['metadata']['name']}-{plan.hash}"
        old_status = deployment.get("status") or {}
        if spec.get("paused"):
            wanted = _condition(
                "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", moment
            )
            return _merged(current, wanted)
        if current is not None and current.get("reason") == "DeploymentPaused":
            wanted = _condition(
                "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", moment
            )
            return _merged(current, wanted)
        if current is None or f'"{name}"' not in str(current.get("message", "")):
            # A template this Deployment has not rolled out before: a new "ReplicaSet".
            wanted = _condition(
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                f'Created new replica set "{name}"',
                moment,
            )
            current = _merged(current, wanted, refresh=True)
        replicas, updated = status.get("replicas", 0), status.get("updatedReplicas", 0)
        if replicas == updated and current.get("reason") == "NewReplicaSetAvailable":
            return current  # complete: only a new template starts over
        complete = (
            updated == plan.replicas
            and replicas == plan.replicas
            and status.get("availableReplicas", 0) == plan.replicas
        )
        if complete:
            wanted = _condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{name}" has successfully progressed.',
                moment,
            )
            return _merged(current, wanted)
        old_old = int(old_status.get("replicas") or 0) - int(old_status.get("updatedReplicas") or 0)
        progressed = (
            updated > int(old_status.get("updatedReplicas") or 0)
            or replicas - updated < old_old
            or status.get("readyReplicas", 0) > int(old_status.get("readyReplicas") or 0)
            or status.get("availableReplicas", 0) > int(old_status.get("availableReplicas") or 0)
        )
        if progressed:
            wanted = _condition(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{name}" is progressing.',
                moment,
            )
            return _merged(current, wanted, refresh=True)
        since = _seconds(current.get("lastUpdateTime"))
        deadline = float(spec.get("progressDeadlineSeconds") or 600)
        if current.get("reason") == "ProgressDeadlineExceeded" or (
            since is not None and time.time() >= since + deadline
        ):
            wanted = _condition(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{name}" has timed out progressing.',
                moment,
            )
            return _merged(current, wanted)
        return current


def pod_for(deployment: Obj, pod_hash: str) -> Obj:
    """A new pod of the Deployment's current template (named by the caller)."""
    meta = deployment["metadata"]
    template = copy.deepcopy((deployment.get("spec") or {}).get("template") or {})
    template_meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    pod_meta: Obj = {
        "generateName": f"{meta['name']}-{pod_hash}-",
        "namespace": meta.get("namespace"),
        "labels": {**(template_meta.get("labels") or {}), HASH_LABEL: pod_hash},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if template_meta.get("annotations"):
        pod_meta["annotations"] = dict(template_meta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}
