#!/usr/bin/env bash
# Removes Greenlight so that nothing stays Terminating: the operator is stopped first, its
# finalizer is then released from every Release, and only then does `helm uninstall` remove the
# operator, its RBAC and the API service's Release.
#
# Usage: scripts/helm-uninstall.sh RELEASE NAMESPACE
#   e.g. scripts/helm-uninstall.sh greenlight greenlight-system
#
# The chart's pre-delete hook does the same inside the cluster, so a plain `helm uninstall` is
# enough; this script is for a release installed with hooks skipped or a hook that cannot run.
# Why the order: without it the operator and the API service's Release go at once, so that
# Release (and its namespace, if deleted) waits forever for a finalizer nobody will release.
# A running operator puts its finalizer back, hence it is scaled to zero first.
# Releases elsewhere keep running (their Deployments and Services stay); a reinstalled operator
# adopts them again. KUBECTL, HELM and KUBE_CONTEXT as in scripts/helm-deploy.sh.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  sed -n '6,7p' "$0" >&2
  exit 64
fi
release="$1"
namespace="$2"
helm="${HELM:-helm}"
kubectl="${KUBECTL:-kubectl}"
finalizer="greenlight.dev/finalizer"
kube_context=()
helm_context=()
if [[ -n "${KUBE_CONTEXT:-}" ]]; then
  kube_context=(--context "$KUBE_CONTEXT")
  helm_context=(--kube-context "$KUBE_CONTEXT")
fi
k() { "$kubectl" "${kube_context[@]}" "$@"; }

selector="app.kubernetes.io/instance=$release,app.kubernetes.io/component=operator"
k -n "$namespace" scale deployment --selector "$selector" --replicas 0
# `wait` fails when no pod matched at all: that is fine, a pod still there is not.
k -n "$namespace" wait pod --selector "$selector" --for delete --timeout 120s ||
  [[ -z "$(k -n "$namespace" get pod --selector "$selector" -o name)" ]]

# Every Release still carrying the operator's finalizer: namespace and name, one per line.
k get releases.greenlight.dev --all-namespaces -o json |
  python3 -c '
import json, sys
for item in json.load(sys.stdin)["items"]:
    meta = item["metadata"]
    if sys.argv[1] in meta.get("finalizers", []):
        print(meta["namespace"], meta["name"])
' "$finalizer" |
  while read -r ns name; do
    [[ -n "$name" ]] || continue
    # Only this finalizer goes: a JSON patch that tests the list first, so that a concurrent
    # change fails the patch instead of being overwritten.
    current="$(k -n "$ns" get releases.greenlight.dev "$name" -o jsonpath='{.metadata.finalizers}')"
    remaining="$(python3 -c 'import json,sys; print(json.dumps([f for f in json.loads(sys.argv[1]) if f != sys.argv[2]]))' "$current" "$finalizer")"
    k -n "$ns" patch releases.greenlight.dev "$name" --type json --patch \
      "[{\"op\":\"test\",\"path\":\"/metadata/finalizers\",\"value\":$current},{\"op\":\"replace\",\"path\":\"/metadata/finalizers\",\"value\":$remaining}]"
    echo "helm-uninstall: released $ns/$name"
  done

"$helm" uninstall "$release" "${helm_context[@]}" --namespace "$namespace" --wait
