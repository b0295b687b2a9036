#!/usr/bin/env bash
# End-to-end check on a throwaway kind cluster (`make e2e-kind`): cert-manager, the image, the
# manifests, then a Deployment annotated with a robot account whose Pods must list the pull
# Secret, and that Secret (a placeholder at least: a kind cluster's ServiceAccount issuer is not
# reachable by quay.io, so no real token is expected) must exist.
# Needs docker, kind, kubectl and internet. KEEP_CLUSTER=1 leaves the cluster for a look.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

CLUSTER="${KIND_CLUSTER:-quay-admission-e2e}"
# Kubernetes >= 1.30: ValidatingAdmissionPolicy v1 and the preStop sleep action.
NODE_IMAGE="${KIND_NODE_IMAGE:-kindest/node:v1.33.1}"
CERT_MANAGER_VERSION="${CERT_MANAGER_VERSION:-v1.19.1}"
IMAGE="${IMAGE:-quay-admission:dev}"
KEEP_CLUSTER="${KEEP_CLUSTER:-0}"

ns=e2e-quay-admission
sa=builder
robot='acme+puller'
registry=quay.io

log() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
k() { kubectl --context "kind-$CLUSTER" "$@"; }

# Runs "$@" until it succeeds, at most $1 times, 5 s apart.
retry() {
  local tries="$1"; shift
  local i
  for ((i = 1; i <= tries; i++)); do
    "$@" && return 0
    sleep 5
  done
  return 1
}

diagnostics() {
  log "diagnostics"
  k -n quay-admission get pods,endpoints,certificates -o wide || true
  k -n quay-admission logs -l app.kubernetes.io/name=quay-admission --prefix --tail=100 || true
  k get mutatingwebhookconfiguration quay-admission -o yaml || true
  k -n "$ns" get pods,secrets -o wide || true
  k -n "$ns" get events --sort-by=.lastTimestamp || true
}

cleanup() {
  local rc=$?
  ((rc == 0)) || diagnostics
  if [[ "$KEEP_CLUSTER" == 1 ]]; then
    echo "keeping the cluster: kind delete cluster --name $CLUSTER"
  else
    kind delete cluster --name "$CLUSTER" || true
  fi
  exit "$rc"
}

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || fail "$tool is not on PATH"
done

# The Secret name the webhook derives (DESIGN.md, "Secret"): quay-<robot, + _ . as ->-<sha256[:10]>.
key="$registry/$robot@$sa"
hash="$(printf '%s' "$key" | sha256sum | cut -c1-10)"
slug="$(printf '%s' "$robot" | tr '[:upper:]' '[:lower:]' | tr '+_.' '---')"
secret="quay-$slug-$hash"

log "kind cluster $CLUSTER ($NODE_IMAGE)"
trap cleanup EXIT
kind create cluster --name "$CLUSTER" --image "$NODE_IMAGE" --wait 120s

log "cert-manager $CERT_MANAGER_VERSION"
k apply -f "https://github.com/cert-manager/cert-manager/releases/download/$CERT_MANAGER_VERSION/cert-manager.yaml"
for d in cert-manager cert-manager-cainjector cert-manager-webhook; do
  k -n cert-manager rollout status "deployment/$d" --timeout=180s
done

log "image $IMAGE"
docker build -t "$IMAGE" "$root"
kind load docker-image "$IMAGE" --name "$CLUSTER"

log "manifests"
# cert-manager's own webhook may refuse Certificates for a few seconds after its rollout.
retry 12 k apply -k manifests/ || fail "kubectl apply -k manifests/"
if [[ "$IMAGE" != quay-admission:dev ]]; then
  k -n quay-admission set image deployment/quay-admission "webhook=$IMAGE"
fi
k -n quay-admission wait certificate/quay-admission-serving --for=condition=Ready --timeout=120s
k -n quay-admission rollout status deployment/quay-admission --timeout=180s
ca_bundle() { [[ -n "$(k get mutatingwebhookconfiguration quay-admission -o jsonpath='{.webhooks[0].clientConfig.caBundle}')" ]]; }
retry 24 ca_bundle || fail "cainjector did not fill the webhook's caBundle"

log "workload in $ns (expects Secret $secret)"
k create namespace "$ns"
k -n "$ns" create serviceaccount "$sa"
k apply -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: $ns
spec:
  replicas: 1
  selector:
    matchLabels:
      app: e2e
  template:
    metadata:
      labels:
        app: e2e
      annotations:
        quay-admission.io/robot-account: "$robot"
    spec:
      serviceAccountName: $sa
      containers:
        - name: app
          image: registry.k8s.io/pause:3.10
YAML

pull_secrets() { k -n "$ns" get pods -l app=e2e -o jsonpath='{.items[*].spec.imagePullSecrets[*].name}'; }
has_pod() { [[ -n "$(k -n "$ns" get pods -l app=e2e -o name)" ]]; }
retry 24 has_pod || fail "no Pod was created"
names="$(pull_secrets)"
[[ " $names " == *" $secret "* ]] || fail "Pod lists imagePullSecrets [$names], expected $secret"
echo "Pod lists $secret"

secret_ok() {
  [[ "$(k -n "$ns" get secret "$secret" \
    -o jsonpath='{.type}/{.metadata.labels.app\.kubernetes\.io/managed-by}' 2>/dev/null)" \
    == "kubernetes.io/dockerconfigjson/quay-admission" ]]
}
retry 24 secret_ok || fail "Secret $ns/$secret (type kubernetes.io/dockerconfigjson, managed-by quay-admission) not found"
echo "Secret $secret exists"

log "server-side dry run: same patch, no Secret"
dry_sa=dry-run
k -n "$ns" create serviceaccount "$dry_sa"
dry_secret="quay-$slug-$(printf '%s' "$registry/$robot@$dry_sa" | sha256sum | cut -c1-10)"
dry_names="$(k create --dry-run=server -o jsonpath='{.spec.imagePullSecrets[*].name}' -f - <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: dry
  namespace: $ns
  annotations:
    quay-admission.io/robot-account: "$robot"
spec:
  serviceAccountName: $dry_sa
  containers:
    - name: app
      image: registry.k8s.io/pause:3.10
YAML
)"
[[ " $dry_names " == *" $dry_secret "* ]] || fail "dry-run Pod lists [$dry_names], expected $dry_secret"
sleep 5
if k -n "$ns" get secret "$dry_secret" >/dev/null 2>&1; then
  fail "a dry run wrote Secret $dry_secret"
fi

log "e2e passed"
