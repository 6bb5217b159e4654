{{/*
The RBAC rules that appear in more than one object (a ClusterRole cluster-wide, a Role per
watched namespace otherwise). Every rule says why it is there; manifests/rbac/operator.yaml
repeats the operator's rules, and tests/validation holds both to one explicit allow-list.
*/}}

{{/* The operator's rules on namespaced resources. */}}
{{- define "greenlight.operatorNamespacedRules" }}
# Releases: Kopf lists and watches them; the operator patches its finalizer and the annotations
# it acts on (promote, abort, rollback-to), and Kopf patches its own progress annotations.
- apiGroups: ["greenlight.dev"]
  resources: ["releases"]
  verbs: ["get", "list", "watch", "patch"]
# Release status: the operator writes phase, gates, conditions and history (status is its own).
- apiGroups: ["greenlight.dev"]
  resources: ["releases/status"]
  verbs: ["get", "patch", "update"]
# The blue and green Deployments of each Release: created, scaled, re-templated on a new
# revision, deleted when a colour is retired; watched to see rollouts progress.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
# Each Release's revisions (pod templates to roll back to) are kept as ControllerRevisions,
# pruned past `revisionHistoryLimit`.
- apiGroups: ["apps"]
  resources: ["controllerrevisions"]
  verbs: ["get", "list", "create", "delete", "patch"]
# The active and preview Services: created, and their selectors switched between colours.
# Never deleted by the operator: ownerReferences let the garbage collector do it.
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "patch", "update"]
{{- if eq .Values.operator.probeVia "apiserver" }}
# Gates probe workloads through the API server's service proxy (`probeVia: apiserver`).
- apiGroups: [""]
  resources: ["services/proxy"]
  verbs: ["get"]
{{- end }}
# EndpointSlices of the active Service: the old colour is scaled down only once they list the
# new colour's endpoints alone.
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["get", "list", "watch"]
# Pods of each colour: read to explain a stuck rollout (crash loops, image pull errors).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list"]
# Events on Releases, one per transition: posted through the core API (as Kopf does) and the
# events.k8s.io API; patched when Kubernetes aggregates a repeated event.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if and (include "greenlight.peeringActive" .) (not (empty .Values.operator.watchNamespaces)) }}
# Kopf peering in each watched namespace: replicas announce themselves in a KopfPeering object
# and watch it to decide which one acts.
- apiGroups: ["kopf.dev"]
  resources: ["kopfpeerings"]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
{{- end }}

{{/* The API service's rules on Releases. */}}
{{- define "greenlight.apiReleaseRules" }}
# Releases: listed and watched for the dashboard and the event streams; patched to set the
# promote, abort and rollback-to annotations (only after the caller's own rights were checked).
- apiGroups: ["greenlight.dev"]
  resources: ["releases"]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
