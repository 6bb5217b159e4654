#!/usr/bin/env bash
# Installs kind and skaffold for the pipeline's e2e job, each checked against the checksum
# published with its release.
#
# Usage: scripts/ci-install-kind-skaffold.sh KIND_VERSION SKAFFOLD_VERSION DEST_DIR
set -euo pipefail

kind_version="$1"
skaffold_version="$2"
dest="$3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch() {  # URL FILE
  curl --fail --silent --show-error --location --retry 3 --output "$2" "$1"
}

fetch "https://kind.sigs.k8s.io/dl/$kind_version/kind-linux-amd64" "$work/kind"
fetch "https://kind.sigs.k8s.io/dl/$kind_version/kind-linux-amd64.sha256sum" "$work/kind.sha256"
echo "$(cut -d ' ' -f 1 "$work/kind.sha256")  $work/kind" | sha256sum -c -

base="https://storage.googleapis.com/skaffold/releases/$skaffold_version"
fetch "$base/skaffold-linux-amd64" "$work/skaffold"
fetch "$base/skaffold-linux-amd64.sha256" "$work/skaffold.sha256"
echo "$(cut -d ' ' -f 1 "$work/skaffold.sha256")  $work/skaffold" | sha256sum -c -

install -m 0755 "$work/kind" "$work/skaffold" "$dest/"
kind version
skaffold version
