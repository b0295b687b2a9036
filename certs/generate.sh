#!/usr/bin/env bash
# Makes a development CA and a serving certificate for the webhook's Service, for clusters
# without cert-manager. Writes ca.crt, ca.key, tls.crt and tls.key into OUT_DIR (default
# certs/out, git-ignored). An existing CA in OUT_DIR is kept, so running it again renews the
# serving certificate without changing the webhook's caBundle. Needs bash and OpenSSL >= 1.1.1.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT_DIR="${OUT_DIR:-$here/out}"
SERVICE="${SERVICE:-quay-admission}"
NAMESPACE="${NAMESPACE:-quay-admission}"
CA_DAYS="${CA_DAYS:-1825}"
SERVING_DAYS="${SERVING_DAYS:-365}"

command -v openssl >/dev/null || { echo "generate.sh: openssl not found" >&2; exit 1; }
mkdir -p "$OUT_DIR"
umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
serial() { echo "0x$(openssl rand -hex 16)"; }

# A config of our own, so the system's openssl.cnf cannot add or change extensions.
cat >"$work/openssl.cnf" <<CNF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[serving]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:$SERVICE.$NAMESPACE.svc, DNS:$SERVICE.$NAMESPACE.svc.cluster.local
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

if [[ -s "$OUT_DIR/ca.crt" && -s "$OUT_DIR/ca.key" ]]; then
  echo "generate.sh: keeping the CA in $OUT_DIR"
else
  new_key "$OUT_DIR/ca.key"
  openssl req -config "$work/openssl.cnf" -new -x509 -key "$OUT_DIR/ca.key" \
    -subj "/CN=quay-admission-dev-ca" -days "$CA_DAYS" -set_serial "$(serial)" \
    -extensions ca -out "$OUT_DIR/ca.crt"
fi

new_key "$work/tls.key"
openssl req -config "$work/openssl.cnf" -new -key "$work/tls.key" \
  -subj "/CN=$SERVICE.$NAMESPACE.svc" -out "$work/tls.csr"
openssl x509 -req -in "$work/tls.csr" -CA "$OUT_DIR/ca.crt" -CAkey "$OUT_DIR/ca.key" \
  -set_serial "$(serial)" -days "$SERVING_DAYS" -sha256 \
  -extfile "$work/openssl.cnf" -extensions serving -out "$work/tls.crt" 2>/dev/null
mv "$work/tls.key" "$OUT_DIR/tls.key"
mv "$work/tls.crt" "$OUT_DIR/tls.crt"
chmod 644 "$OUT_DIR/ca.crt" "$OUT_DIR/tls.crt"

echo "generate.sh: wrote $OUT_DIR/{ca.crt,ca.key,tls.crt,tls.key} for $SERVICE.$NAMESPACE.svc"
