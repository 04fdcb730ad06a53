#!/usr/bin/env bash
# Exec probes of the vldm containers (charts/vldm): a worker serves no HTTP, so its health is read from
# its connection to Temporal, which it needs for everything it does.
#
#   probe.sh ready   the Temporal frontend (VLDM_TEMPORAL_ADDRESS, host:port) accepts a TCP connection
#   probe.sh live    this pod holds an ESTABLISHED TCP connection to the frontend's port: a running
#                    worker's pollers always keep one open (gRPC long polls), so none for minutes
#                    means the worker lost Temporal
#
# Exit status 0 healthy, 1 unhealthy, 2 misconfigured. Needs bash, coreutils' timeout and awk.
set -u

addr=${VLDM_TEMPORAL_ADDRESS:-}
host=${addr%:*}
port=${addr##*:}
if [[ -z $addr || $host == "$addr" || ! $port =~ ^[0-9]{1,5}$ ]]; then
  echo "probe: VLDM_TEMPORAL_ADDRESS must be host:port, got '$addr'" >&2
  exit 2
fi

case ${1:-} in
  ready)
    # bash opens /dev/tcp/<host>/<port> as a TCP connection; the subshell closes it at once.
    if timeout 4 bash -c ': <>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null; then exit 0; fi
    echo "probe: cannot connect to Temporal at $addr" >&2
    exit 1
    ;;
  live)
    files=()
    for f in /proc/net/tcp /proc/net/tcp6; do [[ -r $f ]] && files+=("$f"); done
    # Columns: sl local_address rem_address st ...; addresses are HEXIP:HEXPORT, st 01 is ESTABLISHED.
    want=$(printf ':%04X' "$port")
    if awk -v want="$want" 'FNR > 1 && $4 == "01" && substr($3, length($3) - 4) == want { found = 1 }
      END { exit found ? 0 : 1 }' "${files[@]}"; then
      exit 0
    fi
    echo "probe: no established connection to Temporal's port $port" >&2
    exit 1
    ;;
  *)
    echo "usage: probe.sh ready|live" >&2
    exit 2
    ;;
esac
