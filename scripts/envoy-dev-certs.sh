#!/bin/sh
# Makes a self-signed certificate for Envoy's TLS listener, for local tests
# only (TradingView needs a certificate from a public CA), unless a pair is
# already there. Run by compose's `envoy-certs` service, or by hand:
#   sh scripts/envoy-dev-certs.sh envoy/certs
set -eu
dir="${1:-envoy/certs}"
mkdir -p "$dir"
if [ -s "$dir/tls.crt" ] && [ -s "$dir/tls.key" ]; then
  echo "envoy-dev-certs: using the existing $dir/tls.crt and tls.key"
  exit 0
fi
openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
  -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$dir/tls.key" -out "$dir/tls.crt"
# Envoy runs as its own user in its container and must read the key. This
# is a throwaway local key; a real one is made readable another way (see
# docs/deployment.md, ENVOY_UID).
chmod 0644 "$dir/tls.key" "$dir/tls.crt"
# Hand the files to whoever owns the folder (the host user, when mounted).
owner="$(stat -c %u:%g "$dir" 2>/dev/null || true)"
if [ -n "$owner" ]; then chown "$owner" "$dir/tls.key" "$dir/tls.crt" || true; fi
echo "envoy-dev-certs: wrote a self-signed pair for localhost to $dir"
