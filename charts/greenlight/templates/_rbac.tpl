{{/*
The RBAC rules that appear in more than one object (a ClusterRole cluster-wide, a Role per
watched namespace otherwise). Every rule says why it is there; manifests/rbac/operator.yaml
repeats the operator's rules, and tests/validation holds both to one explicit allow-list.
*/}}

{{/* The operator's rules on namespaced resources. */}}
{{- define "greenlight.operatorNamespacedRules" }}
# Releases: Kopf lists and watches them (it never GETs one: the watch stream is its copy) and
# patches its finalizer and progress annotations; the operator merge-patches away the
# annotation it has acted on (promote, abort, rollback-to).
- apiGroups: ["greenlight.dev"]
  resources: ["releases"]
  verbs: ["list", "watch", "patch"]
# Release status: the operator merge-patches phase, gates, conditions and history; it never
# reads the subresource or replaces it whole.
- apiGroups: ["greenlight.dev"]
  resources: ["releases/status"]
  verbs: ["patch"]
# The blue and green Deployments of each Release: listed by the Release's label to observe
# rollouts, read before a create or a scale, created, and patched
# (a new template, the replicas). Watched (Kopf, those labelled managed-by greenlight) so that
# one deleted under an idle Release is noticed and created again. Never updated whole or deleted: a retired colour is scaled
# to zero, and ownerReferences let the garbage collector remove them with the Release.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Each Release's revisions (pod templates to roll back to) are kept as ControllerRevisions:
# listed, read, created, and deleted when pruned past `revisionHistoryLimit` or replaced by a
# different template under the same name (never patched).
- apiGroups: ["apps"]
  resources: ["controllerrevisions"]
  verbs: ["get", "list", "create", "delete"]
# The active and preview Services: read by name, created, and their selectors patched between
# colours. Listed and watched (Kopf, those labelled managed-by greenlight) so that one deleted
# under an idle Release is noticed and created again.
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
{{- if eq .Values.operator.probeVia "apiserver" }}
# Gates probe workloads through the API server's service proxy with `probeVia: apiserver`
# (GREENLIGHT_PROBE_VIA): a GET reaches the Service from wherever the API server is reachable,
# for an operator that cannot resolve or reach Service DNS. `direct` probes need no right.
- apiGroups: [""]
  resources: ["services/proxy"]
  verbs: ["get"]
{{- end }}
# EndpointSlices of the active Service, listed by its service-name label: the old colour is
# scaled down only once they list the new colour's endpoints alone.
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["list"]
# Core (v1) Events on Releases: the operator posts one per transition, and Kopf posts its
# own; both only create (no patch, no events.k8s.io API).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
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
# promote, abort and rollback-to annotations (only after the caller's own rights were checked);
# the chart's ValidatingAdmissionPolicy refuses any other change by this account.
- apiGroups: ["greenlight.dev"]
  resources: ["releases"]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
