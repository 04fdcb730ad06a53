#!/usr/bin/env bash
# Exec form of the vldm health endpoints (src/observability, docs/observability.md), for runtimes that
# only run commands (`docker run --health-cmd`, other orchestrators). The chart probes the same
# endpoints with httpGet; this script asks them over loopback:
#
#   probe.sh live    GET /healthz: the event loop answers and every worker polled or ran a task lately
#   probe.sh ready   GET /readyz: models loaded, every worker running (does not depend on Temporal)
#
# Port: VLDM_METRICS_PORT (the process must run with it set). Exit status 0 healthy (HTTP 200),
# 1 unhealthy (another status, or no answer within PROBE_TIMEOUT seconds, default 4), 2 misconfigured.
# Needs bash and coreutils' timeout.
set -u

port=${VLDM_METRICS_PORT:-}
if [[ ! $port =~ ^[0-9]{1,5}$ || $port -eq 0 || $port -gt 65535 ]]; then
  echo "probe: VLDM_METRICS_PORT must be the process's metrics port (1-65535), got '$port'" >&2
  exit 2
fi
case ${1:-} in
  live) path=/healthz ;;
  ready) path=/readyz ;;
  *)
    echo "usage: probe.sh live|ready" >&2
    exit 2
    ;;
esac

# bash opens /dev/tcp/<host>/<port> as a TCP connection; HTTP/1.0 makes the server close it after
# the answer, whose first line is "HTTP/1.1 <status> ...".
status=$(timeout "${PROBE_TIMEOUT:-4}" bash -c '
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  printf "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" "$2" >&3
  IFS=" " read -r _ code _ <&3
  echo "$code"' _ "$port" "$path" 2>/dev/null)
if [[ $status == 200 ]]; then exit 0; fi
echo "probe: GET $path on port $port: ${status:-no answer}" >&2
exit 1
