#!/usr/bin/env bash
# The operations checks' tools, installed once and cached under $CRM_CACHE_DIR:
#   promtool    Prometheus rule checks   from Debian's prometheus package (the binary only:
#                                        unpacked from the .deb, so no server is installed
#                                        or started)
#   helm        chart lint and render    from the Go module proxy (go install)
#   kubeconform manifest validation      from the Go module proxy (go install)
#   Kubernetes JSON schemas (strict)     from PyPI's kubernetes-validate wheel (package data)
#
#   scripts/ops-tools.sh            install what is missing (idempotent), print nothing else
#   scripts/ops-tools.sh --print    also print NAME=PATH lines for the tests
source "$(dirname "$0")/lib.sh"

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.7.0}"
KUBERNETES_VALIDATE_VERSION="${KUBERNETES_VALIDATE_VERSION:-1.37.0}"
KUBERNETES_SCHEMA_VERSION="${KUBERNETES_SCHEMA_VERSION:-v1.37.0}"

BIN="${CRM_CACHE_DIR}/bin"
SCHEMAS="${CRM_CACHE_DIR}/kubernetes-json-schema"
SCHEMAS_STAMP="${SCHEMAS}/.kubernetes-validate-${KUBERNETES_VALIDATE_VERSION}-relative-refs"
mkdir -p "${BIN}"

# A tool counts as installed when its binary and the stamp of the wanted version are there.
have() { [ -x "${BIN}/$1" ] && [ -f "${BIN}/.$1-$2" ]; }
stamp() { rm -f "${BIN}/.$1-"*; touch "${BIN}/.$1-$2"; }

go_bin() {
  if command -v go >/dev/null 2>&1; then command -v go
  elif [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go
  else die "Go is needed to build helm and kubeconform (go install from the module proxy)"
  fi
}

go_install() {  # go_install NAME MODULE@VERSION VERSION
  local name="$1" module="$2" version="$3" t0=$SECONDS
  have "${name}" "${version}" && return 0
  log "building ${name} ${version} (go install ${module})"
  GOBIN="${BIN}" CGO_ENABLED=0 GOFLAGS=-trimpath "$(go_bin)" install "${module}" \
    || die "go install ${module} failed"
  stamp "${name}" "${version}"
  log "${name} ${version} installed in $((SECONDS - t0)) s"
}

install_promtool() {
  local t0=$SECONDS tmp version
  command -v apt-get >/dev/null 2>&1 || die "promtool comes from Debian's prometheus package"
  version="$(apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ {print $2}')"
  if [ -z "${version}" ] || [ "${version}" = "(none)" ]; then
    [ "$(id -u)" = "0" ] || die "apt knows no prometheus package; run apt-get update as root"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    version="$(apt-cache policy prometheus | awk '/Candidate:/ {print $2}')"
  fi
  have promtool "${version}" && return 0
  log "installing promtool from Debian's prometheus ${version} (binary only)"
  tmp="$(mktemp -d)"
  chmod 755 "${tmp}"; chown _apt "${tmp}" 2>/dev/null || true  # apt fetches as its _apt user
  if ! (cd "${tmp}" && apt-get download -qq "prometheus=${version}" >/dev/null); then
    # A stale package list names a version the mirror no longer has: refresh it once.
    [ "$(id -u)" = "0" ] || die "apt-get download prometheus failed (apt-get update as root?)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    version="$(apt-cache policy prometheus | awk '/Candidate:/ {print $2}')"
    (cd "${tmp}" && apt-get download -qq "prometheus=${version}" >/dev/null) \
      || die "apt-get download prometheus failed"
  fi
  dpkg-deb -x "${tmp}"/prometheus_*.deb "${tmp}/root"
  install -m 0755 "${tmp}/root/usr/bin/promtool" "${BIN}/promtool"
  rm -rf "${tmp}"
  stamp promtool "${version}"
  log "promtool installed in $((SECONDS - t0)) s"
}

install_schemas() {
  local t0=$SECONDS tmp dir="${SCHEMAS}/${KUBERNETES_SCHEMA_VERSION}-local-strict"
  [ -f "${dir}/deployment-apps-v1.json" ] && [ -f "${SCHEMAS_STAMP}" ] \
    && return 0
  log "unpacking the ${KUBERNETES_SCHEMA_VERSION} strict schemas of kubernetes-validate ${KUBERNETES_VALIDATE_VERSION} (PyPI)"
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps \
    "kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}" -d "${tmp}" \
    || die "pip download kubernetes-validate failed"
  rm -rf "${dir}"
  mkdir -p "${dir}"
  python3 - "${tmp}"/kubernetes_validate-*.whl "${dir}" "${KUBERNETES_SCHEMA_VERSION}-local-strict" <<'PY'
import json, pathlib, sys, zipfile
wheel, target, version_dir = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
prefix = f"kubernetes_validate/kubernetes-json-schema/{version_dir}/"
# The schemas name themselves (https://kubernetes.io/api/...) and point at one shared
# /api/_definitions.json: drop the ids and make the references relative, so kubeconform
# resolves them to the _definitions.json beside each file instead of a URL it cannot load.
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and n.endswith(".json")]
    if not names:
        sys.exit(f"no {prefix} in {wheel}")
    for name in names:
        schema = json.loads(z.read(name))
        schema.pop("$id", None)
        text = json.dumps(schema).replace('"/api/_definitions.json#', '"_definitions.json#')
        (target / name[len(prefix):]).write_text(text)
PY
  rm -rf "${tmp}"
  rm -f "${SCHEMAS}"/.kubernetes-validate-*
  touch "${SCHEMAS_STAMP}"
  log "schemas unpacked in $((SECONDS - t0)) s"
}

install_promtool
go_install helm "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" "${HELM_VERSION}"
go_install kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@${KUBECONFORM_VERSION}" \
  "${KUBECONFORM_VERSION}"
install_schemas

if [ "${1:-}" = "--print" ]; then
  echo "PROMTOOL=${BIN}/promtool"
  echo "HELM=${BIN}/helm"
  echo "KUBECONFORM=${BIN}/kubeconform"
  echo "KUBERNETES_SCHEMAS=${SCHEMAS}"
  echo "KUBERNETES_VERSION=${KUBERNETES_SCHEMA_VERSION#v}"
fi
