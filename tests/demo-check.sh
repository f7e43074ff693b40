#!/usr/bin/env bash
# `make demo-check`: what `make demo` promises, checked from this machine on a
# throw-away sandbox (its own name and ports, so a developer's running demo
# is never touched). Each check says what it found when it fails; the sandbox
# is removed whatever the outcome.
#
#   1. `make demo` succeeds;
#   2. the site answers over HTTPS on the published port, its self-signed
#      certificate verified, through nginx, Django, PostgreSQL and Redis;
#   3. HTTP redirects there;
#   4. Prometheus answers on the sandbox host's loopback (where the README
#      says) and every target it scrapes is up. Right after the converge a
#      target may not have been scraped yet (health "unknown"); the check
#      waits for its first scrape, at most DEMO_CHECK_SCRAPE_WAIT seconds
#      (90: six scrape intervals), and a target still down then fails it.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

name=prodkit-sandbox-check
http_port=18080
https_port=18443
args="-e prodkit_sandbox_container=$name -e ansible_host=$name -e prodkit_sandbox_http_port=$http_port -e prodkit_sandbox_https_port=$https_port"
scrape_wait=${DEMO_CHECK_SCRAPE_WAIT:-90}
cert=.testbed/sandbox-check-cert.pem

destroy() { make --no-print-directory demo-destroy SANDBOX_ARGS="$args"; }
fail() { printf '\ndemo-check FAILED: %s\n' "$*" >&2; destroy >/dev/null 2>&1; exit 1; }

destroy || exit 1
make --no-print-directory demo SANDBOX_ARGS="$args" || fail "make demo exited non-zero (its output is above)"

printf '\n== demo-check: the site, from this machine\n'
docker exec "$name" cat /opt/myproject/nginx/tls/localhost/fullchain.pem >"$cert" \
  || fail "no certificate at /opt/myproject/nginx/tls/localhost/fullchain.pem in $name"
body=$(curl -fsS --max-time 10 --cacert "$cert" --resolve "localhost:$https_port:127.0.0.1" \
  "https://localhost:$https_port/healthz" 2>&1) || fail "https://localhost:$https_port/healthz: $body"
echo "https://localhost:$https_port/healthz -> $body"
grep -q '"status": "ok"' <<<"$body" || fail "/healthz does not say \"status\": \"ok\": $body"
redirect=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$http_port/healthz" 2>&1)
echo "http://127.0.0.1:$http_port/healthz -> $redirect"
[ "$redirect" = "301 https://127.0.0.1:$https_port/healthz" ] \
  || fail "HTTP does not redirect to HTTPS: got '$redirect', want '301 https://127.0.0.1:$https_port/healthz'"

printf '\n== demo-check: Prometheus on the sandbox host'"'"'s loopback, every target up (first scrapes: at most %ss)\n' "$scrape_wait"
deadline=$(( $(date +%s) + scrape_wait ))
while :; do
  targets=$(docker exec "$name" curl -fsS --max-time 10 http://127.0.0.1:9090/api/v1/targets 2>&1) \
    || fail "Prometheus does not answer on 127.0.0.1:9090 in $name: $targets"
  report=$(python3 -c '
import json, sys
active = json.load(sys.stdin)["data"]["activeTargets"]
if not active:
    print("none"); sys.exit(3)
for t in sorted(active, key=lambda t: t["labels"]["job"]):
    print("%-22s %-30s %-7s %s" % (t["labels"]["job"], t["labels"].get("instance", ""), t["health"], t.get("lastError", "")))
sys.exit(0 if all(t["health"] == "up" for t in active) else 2)
' <<<"$targets")
  rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "$report"
    break
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "$report"
    [ "$rc" -eq 3 ] && fail "Prometheus has no target to scrape"
    fail "Prometheus targets not up after ${scrape_wait}s (job, instance, health, last error above)"
  fi
  sleep 5
done

destroy
printf '\ndemo-check: ok (make demo, HTTPS with a verified certificate, the redirect, every Prometheus target up)\n'
