#!/usr/bin/env bash
# On a machine with Docker and kind: builds the images (operator, API, sample app), creates
# (or reuses) the kind cluster "greenlight", loads the images into it and installs the chart.
# `make kind` runs it; `make e2e-kind` runs it and then the end-to-end suite.
#
# Usage: scripts/kind-up.sh   (KIND_CLUSTER=greenlight, TAG=dev by default)
set -euo pipefail
cd "$(dirname "$0")/.."

cluster="${KIND_CLUSTER:-greenlight}"
tag="${TAG:-dev}"
export PATH="$PWD/.tools/bin:$PWD/.venv/bin:$PATH"

for command in docker kind helm kubectl; do
  command -v "$command" >/dev/null || { echo "kind-up: $command is not installed" >&2; exit 1; }
done

docker build --target operator --tag "greenlight/operator:$tag" .
docker build --target api --tag "greenlight/api:$tag" .
# The sample app, tagged as the story's revisions too (they differ only in APP_VERSION and the
# SAMPLE_* variables), so sandbox/greenlight_sandbox/story/shop.yaml applies here unchanged.
docker build --target sample --tag "greenlight/sample:$tag" .
story_tags=()
for version in 1.0.0 2.0.0 3.0.0 4.0.0; do
  docker tag "greenlight/sample:$tag" "greenlight/sample:$version"
  story_tags+=("greenlight/sample:$version")
done

if ! kind get clusters | grep -qx "$cluster"; then
  kind create cluster --name "$cluster" --wait 180s
fi
kubectl config use-context "kind-$cluster"
kind load docker-image --name "$cluster" "greenlight/operator:$tag" "greenlight/api:$tag" \
  "greenlight/sample:$tag" "${story_tags[@]}"

scripts/helm-deploy.sh greenlight greenlight-system \
  --set image.tag="$tag" \
  --set operator.image.repository=greenlight/operator \
  --set apiService.image.repository=greenlight/api \
  --set apiService.strategy.scaleDownDelaySeconds=20 \
  --set apiService.verification.durationSeconds=15
echo "kind-up: Greenlight runs on kind-$cluster; try: kubectl get releases -A"
