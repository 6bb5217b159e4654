#!/usr/bin/env bash
# Installs or upgrades the Greenlight chart, and finishes a cluster's first install.
#
# Usage: scripts/helm-deploy.sh RELEASE NAMESPACE [helm upgrade options...]
#   e.g. scripts/helm-deploy.sh greenlight greenlight-system --set image.tag=1.2.3
#
# Helm checks every object of a release against the cluster's API before it creates any, so
# the objects whose kinds this same install introduces (the API service's Release, a Kopf
# peering object) cannot be part of a cluster's first install: the chart leaves them out and
# says so in its NOTES ("Run the same helm command once more"). This script does exactly that
# when the notes ask for it, so that one command always ends with everything installed.
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

deploy() {
  "$helm" upgrade --install "$release" charts/greenlight \
    --namespace "$namespace" --create-namespace \
    --wait --timeout 10m "$@"
}

notes="$(mktemp)"
trap 'rm -f "$notes"' EXIT
deploy "$@" | tee "$notes"
if grep -q "Run the same helm command once more" "$notes"; then
  echo "helm-deploy: the CRDs are served now; upgrading once more to create their objects"
  deploy "$@" | tee "$notes"
  if grep -q "Run the same helm command once more" "$notes"; then
    echo "helm-deploy: the chart still asks for another upgrade; is a CRD not established?" >&2
    exit 1
  fi
fi
