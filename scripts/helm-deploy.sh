#!/usr/bin/env bash
# Installs or upgrades the Greenlight chart in one `helm upgrade --install`, CRDs first.
#
# Usage: scripts/helm-deploy.sh RELEASE NAMESPACE [helm upgrade options...]
#   e.g. scripts/helm-deploy.sh greenlight greenlight-system --set image.tag=1.2.3
#
# Helm installs the chart's `crds/` before its templates on a first install, but never
# upgrades them: the CRDs are applied first, server-side (the documented upgrade path), then
# the chart is installed or upgraded once. KUBECTL and HELM name other binaries; KUBE_CONTEXT
# picks a kube context for both.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -lt 2 ]]; then
  sed -n '2,6p' "$0" >&2
  exit 64
fi
release="$1"
namespace="$2"
shift 2
helm="${HELM:-helm}"
kubectl="${KUBECTL:-kubectl}"
kube_context=()
helm_context=()
if [[ -n "${KUBE_CONTEXT:-}" ]]; then
  kube_context=(--context "$KUBE_CONTEXT")
  helm_context=(--kube-context "$KUBE_CONTEXT")
fi

"$kubectl" "${kube_context[@]}" apply --server-side --force-conflicts -f charts/greenlight/crds/
"$kubectl" "${kube_context[@]}" wait --for condition=established --timeout=60s \
  crd/releases.greenlight.dev
"$helm" upgrade --install "$release" charts/greenlight "${helm_context[@]}" \
  --namespace "$namespace" --create-namespace \
  --wait --timeout 10m "$@"
