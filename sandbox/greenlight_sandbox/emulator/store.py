"""The object store: what etcd and the generic registry code do in a real API server.

It owns the live objects and their server-managed metadata (``resourceVersion`` from one
global counter, ``uid``, ``creationTimestamp``, ``generation``), optimistic concurrency,
the status subresource, finalizers and deletion, garbage collection by ``ownerReferences``,
and it publishes one watch event per change. Every version of every object is also kept in
kmock's ``ObjectsArray`` (``emulator.objects``), which gives the history for assertions.

Graceful pod deletion (opt-in, ``graceful_pod_deletion``) is the API server's part of a pod's
shutdown: deleting a Pod that a node runs sets ``deletionTimestamp`` (now plus the grace
period) and ``deletionGracePeriodSeconds`` and leaves the object for the kubelet, which stops
the containers and then deletes the pod again with a grace period of 0. The grace period comes
from the request, else from the pod's ``terminationGracePeriodSeconds``, else 30 seconds. As in
Kubernetes, a pod no node runs (no ``spec.nodeName``) or that has ended (phase ``Succeeded`` or
``Failed``) goes at once, and a second deletion may shorten the grace period but not lengthen
it. Garbage collection and namespace deletion take the same path.

All methods are synchronous and run on the emulator's event loop thread, so every operation
is atomic with respect to the others. Errors are raised as :class:`ApiError`.
"""

from __future__ import annotations

import copy
import datetime
import re
import secrets
import uuid
from collections.abc import Callable
from typing import Any

import kmock

from greenlight_sandbox.emulator import patching
from greenlight_sandbox.emulator.errors import (
    ApiError,
    already_exists,
    conflict,
    invalid,
    not_found,
)
from greenlight_sandbox.emulator.resources import ResourceType
from greenlight_sandbox.emulator.selectors import Selection
from greenlight_sandbox.emulator.watch import WatchEvent, WatchHub

Obj = dict[str, Any]
ObjKey = tuple[str | None, str]  # (namespace, name)

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# A pod's terminationGracePeriodSeconds when it sets none, as the API server defaults it.
DEFAULT_GRACE_SECONDS = 30
_ENDED = ("Succeeded", "Failed")
_IMMUTABLE_META = ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp")


def now_rfc3339(after_seconds: float = 0) -> str:
    moment = datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(seconds=after_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(length))


class Store:
    """Live objects per resource, with history in kmock's ``ObjectsArray``."""

    def __init__(
        self, objects: kmock.ObjectsArray, hub: WatchHub, *, graceful_pod_deletion: bool = False
    ) -> None:
        self.objects = objects
        self.hub = hub
        self.graceful_pod_deletion = graceful_pod_deletion
        self.resource_version = 0
        self._live: dict[tuple[str, str], dict[ObjKey, Obj]] = {}
        self._types: dict[tuple[str, str], ResourceType] = {}
        # Called after an object is created, changed or removed: (rtype, old, new).
        self.on_change: list[Callable[[ResourceType, Obj | None, Obj | None], None]] = []
        # Admission: called with a new object before it is stored, (rtype, obj), or with an
        # update of the main resource, (rtype, old, new); they may fill in fields or raise.
        self.admit_create: list[Callable[[ResourceType, Obj], None]] = []
        self.admit_update: list[Callable[[ResourceType, Obj, Obj], None]] = []

    # --- reading -------------------------------------------------------------------------

    def _bucket(self, rtype: ResourceType) -> dict[ObjKey, Obj]:
        self._types.setdefault(rtype.storage_key, rtype)
        return self._live.setdefault(rtype.storage_key, {})

    def _served(self, rtype: ResourceType, obj: Obj) -> Obj:
        """The stored object as this version serves it (a deep copy: callers may mutate)."""
        served = copy.deepcopy(obj)
        served["apiVersion"] = rtype.api_version
        served.setdefault("kind", rtype.kind)
        return served

    def find(self, rtype: ResourceType, namespace: str | None, name: str) -> Obj | None:
        obj = self._bucket(rtype).get((namespace if rtype.namespaced else None, name))
        return None if obj is None else self._served(rtype, obj)

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self.find(rtype, namespace, name)
        if obj is None:
            raise not_found(rtype.group, rtype.plural, name)
        return obj

    def list_objects(self, rtype: ResourceType, selection: Selection) -> tuple[list[Obj], str]:
        items = [
            self._served(rtype, obj)
            for obj in self._bucket(rtype).values()
            if selection.matches(obj)
        ]
        items.sort(key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]))
        return items, str(self.resource_version)

    def all_live(self) -> list[tuple[ResourceType, Obj]]:
        return [
            (self._types[key], obj) for key, bucket in self._live.items() for obj in bucket.values()
        ]

    def history(self, rtype: ResourceType, namespace: str | None, name: str) -> list[Obj]:
        key = (self._kmock_resource(rtype), namespace if rtype.namespaced else None, name)
        if key not in self.objects:
            return []
        return [copy.deepcopy(v.raw) for v in self.objects[key].history if v is not None]

    # --- writing -------------------------------------------------------------------------

    @staticmethod
    def _kmock_resource(rtype: ResourceType) -> kmock.resource:
        return kmock.resource(rtype.group, rtype.stored_as, rtype.plural)

    def _next_rv(self) -> int:
        self.resource_version += 1
        return self.resource_version

    def _commit(
        self, rtype: ResourceType, old: Obj | None, new: Obj | None, final: Obj | None = None
    ) -> Obj:
        """Store a new version (or remove the object if ``new`` is None) and publish it.

        On removal, ``final`` is the last state watchers see (default: the stored one).
        """
        ref = old if new is None else new
        assert ref is not None
        namespace = ref["metadata"].get("namespace") if rtype.namespaced else None
        name = ref["metadata"]["name"]
        bucket = self._bucket(rtype)
        kkey = (self._kmock_resource(rtype), namespace, name)
        rv = self._next_rv()
        if new is not None:
            new["metadata"]["resourceVersion"] = str(rv)
            bucket[(namespace, name)] = new
            if kkey in self.objects:
                self.objects[kkey].history.append(copy.deepcopy(new))
            else:
                self.objects[kkey] = copy.deepcopy(new)
            event = WatchEvent(rv, "ADDED" if old is None else "MODIFIED", new, old)
        else:
            assert old is not None
            del bucket[(namespace, name)]
            self.objects[kkey].delete()
            last = copy.deepcopy(final if final is not None else old)
            last["metadata"]["resourceVersion"] = str(rv)
            event = WatchEvent(rv, "DELETED", last, old)
        self.hub.publish(rtype.storage_key, event)
        for callback in self.on_change:
            callback(rtype, old, new)
        return self._served(rtype, event.obj)

    def create(self, rtype: ResourceType, namespace: str | None, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        if body.get("kind") not in (None, "", rtype.kind):
            raise ApiError(
                400, f"the kind {body.get('kind')!r} does not match {rtype.plural} ({rtype.kind})"
            )
        obj: Obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError(400, "metadata must be an object")
        if rtype.namespaced:
            body_ns = meta.get("namespace")
            if namespace is None:
                raise ApiError(405, f"{rtype.plural} must be created in a namespace")
            if body_ns and body_ns != namespace:
                raise ApiError(
                    400,
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise invalid(
                    rtype.kind,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                )
            bucket = self._bucket(rtype)
            while True:
                candidate = f"{meta['generateName']}{random_suffix()}"
                if (meta.get("namespace"), candidate) not in bucket:
                    meta["name"] = candidate
                    break
        name = str(meta["name"])
        if len(name) > 253 or not _NAME_RE.match(name):
            raise invalid(
                rtype.kind,
                name,
                f"metadata.name: Invalid value: {name!r}: a lowercase RFC 1123 subdomain must "
                "consist of lower case alphanumeric characters, '-' or '.'",
            )
        if (meta.get("namespace"), name) in self._bucket(rtype):
            raise already_exists(rtype.group, rtype.plural, name)
        for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        obj["apiVersion"] = rtype.api_version
        obj["kind"] = rtype.kind
        if rtype.has_status:
            obj.pop("status", None)  # the status subresource is not written on create
        for admit in self.admit_create:
            admit(rtype, obj)
        _apply_defaults(rtype, obj, self.resource_version)
        return self._commit(rtype, None, obj)

    def _current(self, rtype: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self._bucket(rtype).get((namespace if rtype.namespaced else None, name))
        if obj is None:
            raise not_found(rtype.group, rtype.plural, name)
        return obj

    def _finish_update(
        self, rtype: ResourceType, old: Obj, proposed: Any, subresource: str | None
    ) -> Obj:
        """Common tail of PUT and PATCH: isolate status, keep server fields, bump generation."""
        if not isinstance(proposed, dict):
            raise ApiError(422, "the result of the update is not an object")
        name = old["metadata"]["name"]
        wanted_rv = (proposed.get("metadata") or {}).get("resourceVersion")
        if wanted_rv not in (None, "") and str(wanted_rv) != old["metadata"]["resourceVersion"]:
            raise conflict(rtype.group, rtype.plural, name)
        if subresource == "status":
            new = copy.deepcopy(old)
            if "status" in proposed:
                new["status"] = copy.deepcopy(proposed["status"])
            else:
                new.pop("status", None)
        else:
            new = copy.deepcopy(proposed)
            new_meta = new.get("metadata")
            new["metadata"] = new_meta = dict(new_meta) if isinstance(new_meta, dict) else {}
            for field in (*_IMMUTABLE_META, "generation", "deletionGracePeriodSeconds"):
                if field in old["metadata"]:
                    new_meta[field] = old["metadata"][field]
                else:
                    new_meta.pop(field, None)
            if rtype.has_status:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            new["apiVersion"] = old.get("apiVersion", rtype.api_version)
            new["kind"] = rtype.kind
            if old["metadata"].get("deletionTimestamp"):
                added = set(new_meta.get("finalizers") or []) - set(
                    old["metadata"].get("finalizers") or []
                )
                if added:
                    raise invalid(
                        rtype.kind,
                        name,
                        "metadata.finalizers: Forbidden: no new finalizers can be added if the "
                        "object is being deleted",
                    )
            for admit in self.admit_update:
                admit(rtype, old, new)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if _spec_part(rtype, new) != _spec_part(rtype, old):
            new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if new == old:
            return self._served(rtype, old)  # a no-op write: no new version, no event
        if _removable(new):
            return self._remove(rtype, old, last_state=new)
        return self._commit(rtype, old, new)

    def replace(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        subresource: str | None = None,
    ) -> Obj:
        old = self._current(rtype, namespace, name)
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise ApiError(400, "the name of the object does not match the name on the URL")
        return self._finish_update(rtype, old, body, subresource)

    def patch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        patch: Any,
        subresource: str | None = None,
    ) -> Obj:
        old = self._current(rtype, namespace, name)
        builtin = rtype.crd_name is None
        patched = patching.apply_patch(
            content_type, self._served(rtype, old), patch, builtin=builtin
        )
        return self._finish_update(rtype, old, patched, subresource)

    def delete(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        preconditions: dict[str, Any] | None = None,
        grace_period_seconds: int | None = None,
    ) -> Obj:
        old = self._current(rtype, namespace, name)
        meta = old["metadata"]
        for field in ("uid", "resourceVersion"):
            wanted = (preconditions or {}).get(field)
            if wanted and str(wanted) != str(meta.get(field)):
                raise conflict(rtype.group, rtype.plural, name)
        grace = self._grace_period(rtype, old, grace_period_seconds)
        current_grace = meta.get("deletionGracePeriodSeconds")
        if meta.get("deletionTimestamp") and current_grace is not None and current_grace <= grace:
            return self._served(rtype, old)  # already deleting, as soon or sooner
        if grace > 0 or meta.get("finalizers"):
            new = copy.deepcopy(old)
            new["metadata"]["deletionTimestamp"] = now_rfc3339(grace)
            new["metadata"]["deletionGracePeriodSeconds"] = grace
            if _removable(new):  # a shortened grace period of 0 without finalizers
                return self._remove(rtype, old, last_state=new)
            return self._commit(rtype, old, new)
        return self._remove(rtype, old, last_state=old)

    def _grace_period(self, rtype: ResourceType, obj: Obj, requested: int | None) -> int:
        """Seconds a deleted object stays for its node to stop it: only running pods do."""
        if not (self.graceful_pod_deletion and rtype.group == "" and rtype.plural == "pods"):
            return 0
        spec = obj.get("spec") or {}
        if not spec.get("nodeName") or (obj.get("status") or {}).get("phase") in _ENDED:
            return 0  # nothing runs it, or it has ended: nothing to wait for
        if requested is None:
            requested = spec.get("terminationGracePeriodSeconds")
        return DEFAULT_GRACE_SECONDS if requested is None else max(int(requested), 0)

    def _remove(self, rtype: ResourceType, old: Obj, *, last_state: Obj) -> Obj:
        """Remove an object for good, then collect its dependents."""
        # A finalizer-releasing update and the removal are one step: one DELETED event.
        result = self._commit(rtype, old, None, final=last_state)
        self._collect_garbage(str(old["metadata"]["uid"]))
        return result

    def _collect_garbage(self, owner_uid: str) -> None:
        live_uids = {obj["metadata"]["uid"] for _, obj in self.all_live()}
        for rtype, obj in self.all_live():
            refs = obj["metadata"].get("ownerReferences") or []
            if not any(ref.get("uid") == owner_uid for ref in refs):
                continue
            remaining = [ref for ref in refs if ref.get("uid") in live_uids]
            namespace = obj["metadata"].get("namespace")
            name = obj["metadata"]["name"]
            if (namespace if rtype.namespaced else None, name) not in self._bucket(rtype):
                continue  # already collected during this sweep
            if remaining:
                new = copy.deepcopy(obj)
                new["metadata"]["ownerReferences"] = remaining
                self._commit(rtype, obj, new)
            else:
                self.delete(rtype, namespace, name)

    def delete_namespace_contents(self, namespace: str) -> None:
        for rtype, obj in self.all_live():
            name = obj["metadata"]["name"]
            inside = rtype.namespaced and obj["metadata"].get("namespace") == namespace
            if inside and (namespace, name) in self._bucket(rtype):
                self.delete(rtype, namespace, name)

    def drop_resource(self, rtype: ResourceType) -> None:
        """Remove every object of a resource (its CRD is gone)."""
        for obj in list(self._bucket(rtype).values()):
            self._commit(rtype, obj, None)


def _removable(obj: Obj) -> bool:
    """Deleted, with no finalizer left and no grace period still running: gone for good."""
    meta = obj["metadata"]
    return bool(
        meta.get("deletionTimestamp")
        and not meta.get("finalizers")
        and not meta.get("deletionGracePeriodSeconds")
    )


def _spec_part(rtype: ResourceType, obj: Obj) -> Obj:
    skipped = {"metadata", "apiVersion", "kind", *(["status"] if rtype.has_status else [])}
    return {k: v for k, v in obj.items() if k not in skipped}


def _apply_defaults(rtype: ResourceType, obj: Obj, counter: int) -> None:
    """The few defaults that operators under test commonly read back."""
    spec = obj.get("spec")
    if rtype.group == "apps" and rtype.plural == "deployments" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
    elif rtype.group == "" and rtype.plural == "services" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
            spec["clusterIP"] = f"10.96.{(counter // 250) % 250}.{counter % 250 + 1}"
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
    elif rtype.group == "" and rtype.plural == "namespaces":
        obj.setdefault("status", {"phase": "Active"})
    elif rtype.plural == "customresourcedefinitions" and isinstance(spec, dict):
        conditions = [
            {"type": kind, "status": "True", "reason": reason, "message": message}
            for kind, reason, message in (
                ("NamesAccepted", "NoConflicts", "no conflicts found"),
                ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
            )
        ]
        obj["status"] = {
            "acceptedNames": copy.deepcopy(spec.get("names", {})),
            "conditions": conditions,
            "storedVersions": [v["name"] for v in spec.get("versions", []) if v.get("storage")],
        }
