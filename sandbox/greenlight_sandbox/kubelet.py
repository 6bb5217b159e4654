"""The sandbox's kubelet: it runs the emulated cluster's pods as local processes.

A :class:`Kubelet` is a :class:`~greenlight_sandbox.informer.ControllerThread` watching Pods
in every namespace. For each new pod it acts as the scheduler too (it sets ``spec.nodeName``
to its node), takes an address from the pod network (a loopback address, see
:mod:`greenlight_sandbox.addresses`; one where something already listens on a port of the
pod, say another sandbox on the same machine, is skipped) and starts every container as a
local process group (:mod:`greenlight_sandbox.processes`), the command coming from the image
map (:mod:`greenlight_sandbox.images`); output goes to
``<log_dir>/<namespace>_<pod>_<container>.log``.

A process gets a clean environment, as a container does: a few host variables that let the
interpreter find itself and its packages (``HOST_ENV``), ``PYTHONUNBUFFERED=1`` (logs appear
as written), ``KUBECONFIG`` (the cluster's kubeconfig, standing in for the service-account
mount), ``HOSTNAME`` (the pod's name), then the container's own ``env``, which wins.

What it honours, as a kubelet does: ``readinessProbe``, ``livenessProbe`` and
``startupProbe`` (``httpGet``, ``tcpSocket``, ``exec``; ``grpc`` is checked as a TCP connect)
with Kubernetes' defaults; ``restartPolicy``; restarts of crashed or unhealthy containers
with a back-off, ``restartCount`` and ``CrashLoopBackOff`` between; ``lifecycle.preStop``
(``sleep``, ``exec`` run as a local process, ``httpGet``); and the grace period. Deleting a
pod (which the emulator, with graceful pod deletion, marks with ``deletionTimestamp``) runs
preStop, sends SIGTERM to the process group, waits for the rest of the grace period (counted
from when the kubelet saw the deletion, and at least 2 seconds after SIGTERM, the kubelet's
own minimum), sends SIGKILL, writes the final status, releases the address and deletes the
pod with a grace period of 0. A pod that disappears without graceful deletion gets the same
treatment with no grace left: SIGTERM, 2 seconds, SIGKILL.

The back-off starts at 1 second and doubles up to 20 seconds (Kubernetes: 10 seconds to 5
minutes); it starts over once a container has run for 40 seconds. The sandbox is for demos
and tests, where a crash-looping pod that has been fixed must come back within seconds.

The status is written through the ``status`` subresource, only when it changes: ``phase``,
``podIP(s)``, ``hostIP(s)`` (127.0.0.1), ``startTime``, the conditions ``PodScheduled``,
``Initialized``, ``ContainersReady`` and ``Ready`` (with ``readinessGates``; conditions of
other types are kept), and ``containerStatuses`` (``containerID`` is ``sandbox://<pid>``).

Refused, with the container waiting and a message saying why: an image the map does not
know (``ErrImagePull``); a container ``command`` the map does not name, ``envFrom``, and
``valueFrom`` other than ``fieldRef`` (``CreateContainerConfigError``). Pods with
``initContainers`` are refused whole (``CreateContainerConfigError``): the sandbox does not
run them. Ignored: resources, volumes, security contexts, ``workingDir``, ``hostNetwork``.

:meth:`Kubelet.stop` stops every process it started (SIGTERM, ``stop_grace_seconds``,
SIGKILL) before it returns; pods stay in the cluster as they were. While it runs, the
emulator serves ``kubectl logs`` (``GET .../pods/{name}/log``) from its log files.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import pathlib
import signal
import socket
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Self

import aiohttp

from greenlight_sandbox.addresses import AddressesExhausted, AddressPool
from greenlight_sandbox.emulator.store import now_rfc3339
from greenlight_sandbox.images import DEFAULT_PORT, CommandRefused, ImageMap, UnmappedImage
from greenlight_sandbox.informer import ControllerThread
from greenlight_sandbox.podspec import (
    Action,
    ContainerConfigError,
    Obj,
    Probe,
    container_env,
    expand,
    first_port,
)
from greenlight_sandbox.probes import probe_session, run_action
from greenlight_sandbox.processes import LocalProcess, ProcessGroups, exit_code

if TYPE_CHECKING:
    from greenlight_sandbox.emulator.cluster import EmulatedCluster

logger = logging.getLogger(__name__)

DEFAULT_NODE = "sandbox"
HOST_IP = "127.0.0.1"
HOST_ENV = (
    "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV"
)  # fmt: skip
BACKOFF_START_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 20.0
BACKOFF_RESET_SECONDS = 2 * BACKOFF_CAP_SECONDS
MIN_KILL_GRACE_SECONDS = 2.0  # the kubelet's minimum between SIGTERM and SIGKILL
DEFAULT_GRACE_SECONDS = 30
# A pod status write that failed (the API server briefly away) is tried again this much later.
STATUS_RETRY_SECONDS = 0.2
PODS = ("v1", "pods")
_ADDRESS_ATTEMPTS = 64
OWN_CONDITIONS = ("PodScheduled", "Initialized", "ContainersReady", "Ready")


async def _first(*awaitables: Coroutine[Any, Any, Any] | asyncio.Future[Any]) -> None:
    """Wait until the first of ``awaitables`` is done; cancel the coroutines of the others."""
    tasks = [asyncio.ensure_future(item) for item in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task, item in zip(tasks, awaitables, strict=True):
            if task is not item:  # never cancel a future that belongs to someone else
                task.cancel()


def _declared_ports(pod: Obj) -> list[int]:
    containers = (pod.get("spec") or {}).get("containers") or []
    ports = {first_port(c) or DEFAULT_PORT for c in containers if isinstance(c, dict)}
    for container in containers:
        for port in container.get("ports") or []:
            if isinstance(port, dict) and isinstance(port.get("containerPort"), int):
                ports.add(int(port["containerPort"]))
    return sorted(ports)


def _bindable(address: str, port: int) -> bool:
    """Whether nothing listens on ``address:port`` (a socket in TIME_WAIT does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


class ContainerRunner:
    """One container of a pod: its process, restarts, probes and reported state."""

    def __init__(self, pod: PodWorker, spec: Obj) -> None:
        self.pod = pod
        self.spec = spec
        self.name = str(spec.get("name", ""))
        self.image = str(spec.get("image", ""))
        self.restart_count = 0
        self.state: Obj = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state: Obj = {}
        self.ready = False
        self.started = False
        self.container_id = ""
        self.process: LocalProcess | None = None
        self.env: dict[str, str] = {}
        self.stop_requested = asyncio.Event()
        self._unhealthy = asyncio.Event()
        self._started_event = asyncio.Event()
        self._readiness = Probe.from_spec(spec.get("readinessProbe"))
        self._liveness = Probe.from_spec(spec.get("livenessProbe"))
        self._startup = Probe.from_spec(spec.get("startupProbe"))

    @property
    def log_path(self) -> pathlib.Path:
        return self.pod.kubelet.log_dir / f"{self.pod.namespace}_{self.pod.name}_{self.name}.log"

    def wait_with(self, reason: str, message: str) -> None:
        self.state = {"waiting": {"reason": reason, "message": message}}
        self.pod.changed()

    def _restarts_after(self, code: int) -> bool:
        policy = (self.pod.pod.get("spec") or {}).get("restartPolicy") or "Always"
        return policy == "Always" or (policy == "OnFailure" and code != 0)

    async def run(self) -> None:
        """Start, supervise and restart the container until the pod stops it."""
        backoff = BACKOFF_START_SECONDS
        attempts = 0
        while not self.stop_requested.is_set():
            try:
                argv = self.pod.command_for(self)
            except UnmappedImage as error:
                self.wait_with("ErrImagePull", str(error))
                return
            except (CommandRefused, ContainerConfigError) as error:
                self.wait_with("CreateContainerConfigError", str(error))
                return
            if attempts:
                self.restart_count += 1
            attempts += 1
            try:
                process = self.pod.kubelet.processes.start(
                    argv, env=self.env, log_path=self.log_path
                )
            except OSError as error:
                moment = now_rfc3339()
                outcome: Obj | None = {
                    "exitCode": 128,
                    "reason": "StartError",
                    "message": str(error),
                    "startedAt": moment,
                    "finishedAt": moment,
                }
                ran = 0.0
            else:
                outcome, ran = await self._supervise(process)
            if outcome is None:
                return  # stopped with the pod
            if not self._restarts_after(int(outcome["exitCode"])):
                self.state = {"terminated": outcome}
                self.pod.changed()
                return
            self.last_state = {"terminated": outcome}
            if ran >= BACKOFF_RESET_SECONDS:
                backoff = BACKOFF_START_SECONDS
            delay, backoff = backoff, min(backoff * 2, BACKOFF_CAP_SECONDS)
            self.wait_with(
                "CrashLoopBackOff",
                f"back-off {delay:g}s restarting failed container={self.name} "
                f"pod={self.pod.name}_{self.pod.namespace}({self.pod.uid})",
            )
            await _first(asyncio.sleep(delay), self.stop_requested.wait())

    async def _supervise(self, process: LocalProcess) -> tuple[Obj | None, float]:
        """Run one process to its end; its terminated state (None if the pod stopped it)."""
        started = time.monotonic()
        started_at = now_rfc3339()
        self.pod.kubelet.started_pids.append(process.pid)
        self.process = process
        self.container_id = f"sandbox://{process.pid}"
        self.state = {"running": {"startedAt": started_at}}
        self.started = self._startup is None
        self.ready = self._readiness is None
        self._unhealthy.clear()
        self._started_event.clear()
        if self.started:
            self._started_event.set()
        self.pod.changed()
        readiness = health = None
        if self._readiness is not None:
            readiness = asyncio.ensure_future(self._probe_readiness(self._readiness, started))
        if self._startup is not None or self._liveness is not None:
            health = asyncio.ensure_future(self._probe_health(started))
        try:
            await _first(process.exited, self._unhealthy.wait(), self.stop_requested.wait())
            if health is not None:
                health.cancel()  # no restarts for a container being stopped or restarted
            if process.running and self.stop_requested.is_set():
                await self._kill(process, lambda: self.pod.deadline)
            elif process.running:
                grace = self._grace_seconds()
                end = time.monotonic() + grace
                await self._kill(process, lambda: min(end, self.pod.deadline))
            returncode = await process.exited
        finally:
            for task in (readiness, health):
                if task is not None:
                    task.cancel()
            self.process = None
            self.ready = self.started = False
        code = exit_code(returncode)
        outcome = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": started_at,
            "finishedAt": now_rfc3339(),
            "containerID": self.container_id,
        }
        if self.stop_requested.is_set():
            self.state = {"terminated": outcome}
            self.pod.changed()
            return None, 0.0
        return outcome, time.monotonic() - started

    def _grace_seconds(self) -> float:
        """The grace period of a restart after failed probes (the probe may set its own)."""
        for key in ("livenessProbe", "startupProbe"):
            probe = self.spec.get(key)
            if isinstance(probe, dict) and probe.get("terminationGracePeriodSeconds") is not None:
                return float(probe["terminationGracePeriodSeconds"])
        return self.pod.grace_seconds(None)

    async def _kill(self, process: LocalProcess, deadline: Callable[[], float]) -> None:
        """preStop, SIGTERM, the rest of the grace period (at least 2 s), SIGKILL."""
        lifecycle = self.spec.get("lifecycle") or {}
        pre_stop = Action.from_spec(lifecycle.get("preStop") or {})
        remaining = deadline() - time.monotonic()
        if pre_stop is not None and remaining > 0:
            await self._act(pre_stop, remaining)
        process.signal(signal.SIGTERM)
        floor = time.monotonic() + MIN_KILL_GRACE_SECONDS
        while process.running:
            remaining = max(deadline(), floor) - time.monotonic()
            if remaining <= 0:
                break
            changed = asyncio.ensure_future(self.pod.deadline_changed.wait())  # shortened
            waiters: list[asyncio.Future[Any]] = [process.exited, changed]
            await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()
        process.signal(signal.SIGKILL)
        await process.exited

    async def _act(self, action: Action, within_seconds: float) -> bool:
        assert self.pod.ip is not None
        return await run_action(
            action,
            session=self.pod.kubelet.session,
            pod_ip=self.pod.ip,
            container=self.spec,
            env=self.env,
            processes=self.pod.kubelet.processes,
            within_seconds=within_seconds,
        )

    async def _probe_until(self, probe: Probe, started: float, *, until_success: bool) -> bool:
        """Probe until ``successThreshold`` passes in a row (True, if ``until_success``) or
        ``failureThreshold`` failures in a row (False)."""
        await asyncio.sleep(max(started + probe.initial_delay - time.monotonic(), 0))
        successes = failures = 0
        while True:
            if await self._act(probe.action, probe.timeout):
                successes, failures = successes + 1, 0
                if until_success and successes >= probe.success_threshold:
                    return True
            else:
                successes, failures = 0, failures + 1
                if failures >= probe.failure_threshold:
                    return False
            await asyncio.sleep(probe.period)

    async def _probe_health(self, started: float) -> None:
        """The startup probe, then the liveness probe; either failing restarts the container."""
        if self._startup is not None:
            if not await self._probe_until(self._startup, started, until_success=True):
                self._unhealthy.set()
                return
            self.started = True
            self._started_event.set()
            self.pod.changed()
        if self._liveness is not None:
            await self._probe_until(self._liveness, started, until_success=False)
            self._unhealthy.set()

    async def _probe_readiness(self, probe: Probe, started: float) -> None:
        await self._started_event.wait()
        await asyncio.sleep(max(started + probe.initial_delay - time.monotonic(), 0))
        successes = failures = 0
        while True:
            if await self._act(probe.action, probe.timeout):
                successes, failures = successes + 1, 0
                if successes >= probe.success_threshold and not self.ready:
                    self.ready = True
                    self.pod.changed()
            else:
                successes, failures = 0, failures + 1
                if failures >= probe.failure_threshold and self.ready:
                    self.ready = False
                    self.pod.changed()
            await asyncio.sleep(probe.period)

    def status(self) -> Obj:
        return {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "containerID": self.container_id,
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": self.state,
            "lastState": self.last_state,
        }


class PodWorker:
    """One pod on this node: its address, containers, status writes and termination."""

    def __init__(self, kubelet: Kubelet, pod: Obj) -> None:
        self.kubelet = kubelet
        self.pod = pod
        meta = pod["metadata"]
        self.namespace = str(meta.get("namespace") or "default")
        self.name = str(meta["name"])
        self.uid = str(meta["uid"])
        spec = pod.get("spec") or {}
        self.runners = [ContainerRunner(self, c) for c in spec.get("containers") or []]
        self.scheduled = bool(spec.get("nodeName"))
        self.ip: str | None = None
        self.start_time: str | None = None
        self.deleting = asyncio.Event()
        self.deadline = math.inf  # monotonic time at which the grace period ends
        self.deadline_changed = asyncio.Event()
        self.gone = False  # the object no longer exists
        self.final = False  # every container has stopped for good
        self._dirty = asyncio.Event()
        self._written: Obj | None = None
        self._transitions: dict[str, tuple[str, str]] = {}

    # --- from the informer -----------------------------------------------------------------

    def update(self, pod: Obj) -> None:
        self.pod = pod
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            self.terminate(self.grace_seconds(meta.get("deletionGracePeriodSeconds")))
        self.changed()  # e.g. a readiness gate's condition

    def removed(self, pod: Obj) -> None:
        """The object is gone without (or before the end of) a graceful deletion."""
        self.pod = pod
        self.gone = True
        self.terminate(0)

    def grace_seconds(self, requested: Any) -> float:
        if requested is None:
            requested = (self.pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        return float(DEFAULT_GRACE_SECONDS if requested is None else max(int(requested), 0))

    def terminate(self, grace: float) -> None:
        deadline = time.monotonic() + grace
        if deadline < self.deadline:
            self.deadline = deadline
            changed, self.deadline_changed = self.deadline_changed, asyncio.Event()
            changed.set()
        self.deleting.set()

    def changed(self) -> None:
        self._dirty.set()

    # --- the pod's life --------------------------------------------------------------------

    async def run(self) -> None:
        writer = asyncio.ensure_future(self._write_statuses())
        runners: list[asyncio.Task[None]] = []
        try:
            if not self.scheduled:
                patch = {"spec": {"nodeName": self.kubelet.node_name}}
                bound = await self.kubelet.call(
                    self.kubelet.cluster.patch, *PODS, self.namespace, self.name, patch
                )
                if bound is None:
                    return  # deleted before it was bound
                self.scheduled = True
            self.start_time = now_rfc3339()
            problem = self._refusal()
            if problem is None:
                try:
                    self.ip = self.kubelet.claim_address(self.pod)
                except AddressesExhausted as error:
                    problem = str(error)
            if problem is not None:
                for runner in self.runners:
                    runner.wait_with("CreateContainerConfigError", problem)
            else:
                runners = [asyncio.ensure_future(runner.run()) for runner in self.runners]
            self.changed()
            await self.deleting.wait()
            for runner in self.runners:
                runner.stop_requested.set()
            await asyncio.gather(*runners)
            self.final = True
            self.changed()
            await writer  # the final status is written before the pod goes
            if not self.gone:
                await self.kubelet.call(
                    self.kubelet.cluster.delete,
                    *PODS,
                    self.namespace,
                    self.name,
                    grace_period_seconds=0,
                    preconditions={"uid": self.uid},
                )
        finally:
            writer.cancel()
            for task in runners:
                task.cancel()
            if self.ip is not None:
                self.kubelet.pod_addresses.release(self.ip)

    def _refusal(self) -> str | None:
        spec = self.pod.get("spec") or {}
        if spec.get("initContainers"):
            return "the sandbox does not run init containers (spec.initContainers)"
        if not self.runners:
            return "the pod has no containers"
        return None

    def command_for(self, runner: ContainerRunner) -> list[str]:
        """The argument list of a container (and its environment, kept on the runner)."""
        assert self.ip is not None
        spec = runner.spec
        own = container_env(self.pod, spec, pod_ip=self.ip, host_ip=HOST_IP)
        runner.env = {
            **self.kubelet.base_env,
            "PYTHONUNBUFFERED": "1",
            "KUBECONFIG": self.kubelet.kubeconfig,
            "HOSTNAME": self.name,
            **own,
        }
        command = [expand(str(part), own) for part in spec.get("command") or []]
        args = [expand(str(part), own) for part in spec.get("args") or []]
        return self.kubelet.images.command_for(
            runner.image, pod_ip=self.ip, port=first_port(spec), args=args, command=command
        )

    # --- status ----------------------------------------------------------------------------

    async def _write_statuses(self) -> None:
        """Write the status whenever it changed, one write at a time, until the final one."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            final = self.final
            if self.gone:
                return
            status = self.status()
            if status != self._written:
                try:
                    written = await self.kubelet.call(
                        self.kubelet.cluster.patch,
                        *PODS,
                        self.namespace,
                        self.name,
                        {"status": status},
                        "status",
                    )
                except Exception as error:  # the API server is briefly away: try again
                    logger.warning("Writing the status of %s failed: %r", self.name, error)
                    await asyncio.sleep(STATUS_RETRY_SECONDS)
                    self._dirty.set()
                    continue
                if written is None:
                    return  # the pod is gone
                self._written = status
            if final:
                return

    def _condition(self, kind: str, ok: bool, reason: str = "", message: str = "") -> Obj:
        status = "True" if ok else "False"
        if self._transitions.get(kind, ("",))[0] != status:
            self._transitions[kind] = (status, now_rfc3339())
        condition: Obj = {
            "type": kind,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": self._transitions[kind][1],
        }
        if not ok and reason:
            condition["reason"] = reason
            condition["message"] = message
        return condition

    def _phase(self) -> str:
        ended = [runner.state.get("terminated") for runner in self.runners]
        if self.runners and all(ended):
            return "Succeeded" if all(e and e.get("exitCode") == 0 for e in ended) else "Failed"
        if self.final:
            return "Failed"  # stopped before every container had run
        if any("running" in runner.state or runner.last_state for runner in self.runners):
            return "Running"
        return "Pending"

    def status(self) -> Obj:
        spec = self.pod.get("spec") or {}
        current = self.pod.get("status") or {}
        foreign = [
            condition
            for condition in current.get("conditions") or []
            if isinstance(condition, dict) and condition.get("type") not in OWN_CONDITIONS
        ]
        unready = [runner.name for runner in self.runners if not runner.ready]
        containers_ready = bool(self.runners) and not unready
        gates = [
            str(gate.get("conditionType"))
            for gate in spec.get("readinessGates") or []
            if isinstance(gate, dict)
        ]
        true_gates = {c.get("type") for c in foreign if c.get("status") == "True"}
        missing_gates = [gate for gate in gates if gate not in true_gates]
        initialized = not spec.get("initContainers")
        if not containers_ready:
            ready_reason = "ContainersNotReady"
            ready_message = f"containers with unready status: [{' '.join(unready)}]"
        else:
            ready_reason = "ReadinessGatesNotReady"
            ready_message = (
                f"corresponding condition of pod readiness gate {missing_gates} not True"
            )
        conditions = [
            self._condition("PodScheduled", self.scheduled, "Unschedulable", "not bound"),
            self._condition(
                "Initialized",
                initialized,
                "ContainersNotInitialized",
                "the sandbox does not run init containers",
            ),
            self._condition(
                "ContainersReady", containers_ready, "ContainersNotReady", ready_message
            ),
            self._condition(
                "Ready", containers_ready and not missing_gates, ready_reason, ready_message
            ),
            *foreign,
        ]
        status: Obj = {
            "phase": self._phase(),
            "hostIP": HOST_IP,
            "hostIPs": [{"ip": HOST_IP}],
            "conditions": conditions,
            "containerStatuses": [runner.status() for runner in self.runners],
            "qosClass": "BestEffort",
        }
        if self.ip is not None:
            status["podIP"] = self.ip
            status["podIPs"] = [{"ip": self.ip}]
        if self.start_time is not None:
            status["startTime"] = self.start_time
        return status


class Kubelet(ControllerThread):
    """The node agent of the sandbox (see the module docstring)."""

    name = "kubelet"

    def __init__(
        self,
        cluster: EmulatedCluster,
        *,
        images: ImageMap,
        pod_addresses: AddressPool,
        log_dir: pathlib.Path,
        node_name: str = DEFAULT_NODE,
        stop_grace_seconds: float = 2.0,
    ) -> None:
        super().__init__(cluster)
        self.images = images
        self.pod_addresses = pod_addresses
        self.log_dir = pathlib.Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.node_name = node_name
        self.stop_grace_seconds = stop_grace_seconds
        self.processes = ProcessGroups()
        self.started_pids: list[int] = []  # every container process ever started, in order
        self.base_env = {key: os.environ[key] for key in HOST_ENV if key in os.environ}
        self.kubeconfig = str(cluster.kubeconfig_path)
        self._workers: dict[str, PodWorker] = {}  # by pod uid
        self._worker_tasks: dict[str, asyncio.Task[None]] = {}
        self._done: set[str] = set()  # uids whose worker ended, until their DELETED event
        self._session: aiohttp.ClientSession | None = None
        self._pods = self.informer("/api/v1/pods")
        self._pods.on_change(self._on_pod)

    @property
    def session(self) -> aiohttp.ClientSession:
        """The probes' HTTP session (created on first use, on the kubelet's loop)."""
        if self._session is None:
            self._session = probe_session()
        return self._session

    def claim_address(self, pod: Obj) -> str:
        """The pod's address: the one its status already names (after a restart), or a new
        one where nothing listens yet on the pod's ports (another sandbox on this machine may
        be using the same network)."""
        written = (pod.get("status") or {}).get("podIP")
        if written and written not in self.pod_addresses:
            try:
                self.pod_addresses.claim(str(written))
                return str(written)
            except ValueError:
                pass  # outside the pod network
        ports = _declared_ports(pod)
        busy: list[str] = []
        try:
            for _ in range(_ADDRESS_ATTEMPTS):
                address = self.pod_addresses.allocate()
                if all(_bindable(address, port) for port in ports):
                    return address
                busy.append(address)
            raise AddressesExhausted(
                f"no address of {self.pod_addresses.network} tried is free on ports {ports}"
            )
        finally:
            for address in busy:
                self.pod_addresses.release(address)  # reused last: maybe free by then

    def start(self, timeout: float = 10.0) -> Self:
        super().start(timeout)
        self.cluster.set_pod_log_source(self.read_log)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self.cluster.running and self.cluster.emulator.pod_logs == self.read_log:
            self.cluster.set_pod_log_source(None)
        super().stop(timeout)

    def read_log(self, namespace: str, pod: str, container: str) -> str | None:
        """A container's output so far (for ``kubectl logs``); None before it ever started."""
        path = self.log_dir / f"{namespace}_{pod}_{container}.log"
        try:
            return path.read_text(errors="replace")
        except FileNotFoundError:
            return None

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        meta = pod.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        node = (pod.get("spec") or {}).get("nodeName")
        if node and node != self.node_name:
            return
        worker = self._workers.get(uid)
        if event_type == "DELETED":
            self._done.discard(uid)
            if worker is not None:
                worker.removed(pod)
            return
        if worker is not None:
            worker.update(pod)
            return
        if uid in self._done:
            return
        if meta.get("deletionTimestamp"):  # deleted before it ran here: nothing to stop
            self._done.add(uid)
            key = (str(meta.get("namespace") or "default"), str(meta["name"]))
            self.spawn(
                self.call(
                    self.cluster.delete,
                    *PODS,
                    *key,
                    grace_period_seconds=0,
                    preconditions={"uid": uid},
                )
            )
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return  # it ended before this kubelet started
        worker = PodWorker(self, pod)
        self._workers[uid] = worker
        task = asyncio.ensure_future(worker.run())
        self._worker_tasks[uid] = task
        task.add_done_callback(lambda done: self._worker_ended(uid, done))

    def _worker_ended(self, uid: str, task: asyncio.Task[None]) -> None:
        worker = self._workers.pop(uid, None)
        self._worker_tasks.pop(uid, None)
        if worker is not None and not worker.gone:
            self._done.add(uid)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            logger.error("The kubelet's worker of pod %s failed: %r", uid, error)
            self.errors.append(repr(error))

    async def stopping(self) -> None:
        tasks = list(self._worker_tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.processes.stop_all(self.stop_grace_seconds)
        if self._session is not None:
            await self._session.close()

    # --- for tests and tools (any thread) --------------------------------------------------

    def pid_of(self, namespace: str, name: str, container: str | None = None) -> int | None:
        """The pid of a running container's process (the pod's first container by default)."""

        async def find() -> int | None:
            for worker in self._workers.values():
                if (worker.namespace, worker.name) != (namespace, name):
                    continue
                for runner in worker.runners:
                    if container in (None, runner.name) and runner.process is not None:
                        return runner.process.pid
            return None

        return self.submit(find()).result(timeout=5)
