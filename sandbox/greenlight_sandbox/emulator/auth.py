"""Authentication and authorization: bearer tokens, TokenReview, SubjectAccessReview.

- ``tokens`` maps a bearer token to a :class:`UserInfo`. The kubeconfig's ``admin-token``
  is always known (user ``kubernetes-admin`` in ``system:masters``).
- Requests carrying any token are served unless the emulator requires authentication,
  in which case unknown or missing tokens get 401.
- ``TokenReview`` answers from ``tokens``; ``SubjectAccessReview`` (and the local and
  self variants) answer from the rules given with :meth:`Authorizer.allow` (and not taken
  back with :meth:`Authorizer.revoke`). Members of
  ``system:masters`` are allowed everything, as in Kubernetes.
- Subresources are matched as RBAC matches them: a rule on ``releases`` covers no
  subresource; one on ``releases/actions`` covers that one only (whether or not the server
  serves it, as for SubjectAccessReview); ``*`` covers all and ``*/actions`` one of every
  resource.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

ADMIN_TOKEN = "admin-token"
MASTERS = "system:masters"
# The audience of tokens issued for the API server itself, as in a real cluster.
API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"


@dataclasses.dataclass(frozen=True)
class UserInfo:
    """Who a token belongs to, as a TokenReview reports it."""

    username: str
    groups: tuple[str, ...] | list[str] = ()
    uid: str = ""
    # What the token was issued for, as `kubectl create token --audience`. None: valid for
    # any audience a TokenReview asks about (the emulator's behaviour before audiences).
    audiences: tuple[str, ...] | None = None

    def as_status_user(self) -> dict[str, Any]:
        groups = [*self.groups, "system:authenticated"]
        return {"username": self.username, "uid": self.uid, "groups": groups}


ADMIN = UserInfo("kubernetes-admin", (MASTERS,), "admin-uid")


@dataclasses.dataclass(frozen=True)
class AccessRule:
    subject: str  # a username or a group name
    verb: str  # "*" for any
    resource: str  # "*" for any; "releases/status" for a subresource
    namespace: str | None  # None: every namespace (and cluster-scoped requests)
    group: str  # "*" for any

    def allows(self, subjects: set[str], attrs: dict[str, Any]) -> bool:
        resource = str(attrs.get("resource", ""))
        if attrs.get("subresource"):
            resource = f"{resource}/{attrs['subresource']}"
        return (
            self.subject in subjects
            and self.verb in ("*", attrs.get("verb"))
            and self._covers(resource)
            and self.group in ("*", attrs.get("group", ""))
            and (self.namespace is None or self.namespace == attrs.get("namespace"))
        )

    def _covers(self, resource: str) -> bool:
        if self.resource in ("*", resource):
            return True
        # RBAC's `*/<subresource>`: that subresource of any resource.
        return self.resource.startswith("*/") and resource.endswith(self.resource[1:])


class Authorizer:
    """Token identities and access rules; safe to change from any thread."""

    def __init__(self, *, require_auth: bool = False) -> None:
        self.require_auth = require_auth
        self.tokens: dict[str, UserInfo] = {ADMIN_TOKEN: ADMIN}
        self._rules: list[AccessRule] = []
        self._lock = threading.Lock()

    def allow(
        self,
        user_or_group: str,
        verb: str,
        resource: str,
        namespace: str | None = None,
        group: str = "greenlight.dev",
    ) -> None:
        with self._lock:
            self._rules.append(AccessRule(user_or_group, verb, resource, namespace, group))

    def revoke(
        self,
        user_or_group: str,
        verb: str,
        resource: str,
        namespace: str | None = None,
        group: str = "greenlight.dev",
    ) -> None:
        """Take back what :meth:`allow` gave with the same arguments (as deleting a binding)."""
        rule = AccessRule(user_or_group, verb, resource, namespace, group)
        with self._lock:
            self._rules = [kept for kept in self._rules if kept != rule]

    def identify(self, authorization: str | None) -> UserInfo | None:
        """The user of an ``Authorization`` header, or None if it is not a known token."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        return self.tokens.get(authorization[7:].strip())

    def is_allowed(self, user: str, groups: list[str], attrs: dict[str, Any]) -> tuple[bool, str]:
        subjects = {user, *groups}
        if MASTERS in subjects:
            return True, "allowed as a member of system:masters"
        with self._lock:
            rules = list(self._rules)
        for rule in rules:
            if rule.allows(subjects, attrs):
                return True, f"allowed by a rule for {rule.subject!r}"
        what = f"{attrs.get('verb')} {attrs.get('resource')}.{attrs.get('group', '')}"
        if attrs.get("subresource"):
            what += f"/{attrs['subresource']}"
        where = f" in namespace {attrs['namespace']!r}" if attrs.get("namespace") else ""
        return False, f"no rule allows {user!r} to {what}{where}"

    def token_review(self, body: dict[str, Any]) -> dict[str, Any]:
        spec = body.get("spec") or {}
        token = str(spec.get("token", ""))
        user = self.tokens.get(token)
        # As the API server: no audiences asked means its own; the answer names those the
        # token was issued for among the ones asked, and none in common is a refusal.
        wanted = [str(a) for a in spec.get("audiences") or []] or [API_AUDIENCE]
        matched = (
            wanted
            if user is None or user.audiences is None
            else [audience for audience in wanted if audience in user.audiences]
        )
        status: dict[str, Any] = {"authenticated": user is not None and bool(matched)}
        if user is None:
            status["error"] = "invalid bearer token"
        elif not matched:
            status["error"] = "token audiences are invalid for the target audiences"
        else:
            status["user"] = user.as_status_user()
            status["audiences"] = matched
        return {**body, "apiVersion": "authentication.k8s.io/v1", "status": status}

    def access_review(
        self,
        body: dict[str, Any],
        *,
        kind: str,
        requester: UserInfo | None,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        spec = body.get("spec") or {}
        attrs = dict(spec.get("resourceAttributes") or spec.get("nonResourceAttributes") or {})
        if namespace is not None:
            attrs["namespace"] = namespace
        if kind == "SelfSubjectAccessReview":
            who = requester or UserInfo("system:anonymous", ("system:unauthenticated",))
            user, groups = who.username, [*who.groups, "system:authenticated"]
        else:
            user, groups = str(spec.get("user", "")), list(spec.get("groups") or [])
        allowed, reason = self.is_allowed(user, groups, attrs)
        status = {"allowed": allowed, "reason": reason}
        if not allowed:
            status["denied"] = False  # "not allowed" rather than an explicit deny
        return {**body, "apiVersion": "authorization.k8s.io/v1", "kind": kind, "status": status}
