#!/usr/bin/env bash
# Checks that the packaged Linux agent is the released, self-contained one
# (scripts/build-portable-agent.sh), one line per check:
#   - the agent in the .deb names (NEEDED) only the C library family (libc, libm, libpthread,
#     libdl, ld-linux) and libsystemd, and `ldd` lists nothing else but libsystemd's own
#     dependencies;
#   - the highest GLIBC_ symbol version it needs is at most VIGIL_AGENT_MAX_GLIBC (default
#     2.28: RHEL/Alma/Rocky 8, Debian 11, Ubuntu 20.04, SUSE 15 SP3 and newer; docs/platforms.md);
#   - the .rpm's automatic requirements name only those libraries;
#   - with --run ROOT COLLECTOR: the packaged agent, copied into ROOT (the Debian 11 root the
#     agent was built in), enrolls with COLLECTOR (a collector binary run on this host's
#     loopback) and goes ONLINE through the REST API over HTTP, then over HTTPS with a private
#     CA given as ca_file (refused without it: the certificate is verified; enrolled without it
#     once that CA is the root's /etc/pki/tls/certs/ca-bundle.crt: the system bundle is found).
#
# Usage: scripts/check-portable-agent.sh PACKAGE_DIR [--run ROOT COLLECTOR]
#   PACKAGE_DIR holds vigil-agent_*.deb and vigil-agent-*.rpm (scripts/package.sh).
# Exit status 0 only if every check passed. --run needs root (chroot, a /proc mount in ROOT)
# and openssl (the test CA); it writes only below ROOT/var/tmp and a temporary directory.
set -euo pipefail

die() {
  echo "check-portable-agent: $*" >&2
  exit 2
}
packages=$(cd "${1:?give the package directory}" && pwd)
shift
run_root='' collector=''
if [ "${1:-}" = --run ]; then
  run_root=$(cd "${2:?--run needs ROOT}" && pwd)
  collector=$(readlink -f "${3:?--run needs COLLECTOR}")
  [ -x "$collector" ] || die "no collector at $3"
fi
deb=$(ls "$packages"/vigil-agent_*.deb | head -n1)
rpm=$(ls "$packages"/vigil-agent-*.rpm | head -n1)
max_glibc=${VIGIL_AGENT_MAX_GLIBC:-2.28}

failed=0
report() {  # report CHECK STATUS DETAIL
  printf '%-40s %s  %s\n' "portable-agent $1" "$2" "$3"
  [ "$2" = PASS ] || failed=1
}
work=$(mktemp -d)
cleanup() {
  [ -z "${collector_pid:-}" ] || kill "$collector_pid" 2>/dev/null || true
  [ -z "${agent_pid:-}" ] || kill "$agent_pid" 2>/dev/null || true
  [ -z "$run_root" ] || umount "$run_root/proc" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
dpkg-deb -x "$deb" "$work/deb"
agent=$work/deb/usr/bin/vigil-agent

# The C library family: the libraries glibc itself is made of.
libc_family='^(libc|libm|libpthread|libdl|librt|ld-linux-x86-64|ld-linux-aarch64)\.so\.[0-9.]+$'
needed=$(objdump -p "$agent" | awk '/NEEDED/{print $2}')
others=$(grep -vE "$libc_family" <<<"$needed" | grep -vx 'libsystemd.so.0' || true)
if [ -z "$others" ] && grep -qx 'libsystemd.so.0' <<<"$needed"; then
  report "NEEDED" PASS "$(tr '\n' ' ' <<<"$needed")"
else
  report "NEEDED" FAIL "other libraries: $(tr '\n' ' ' <<<"${others:-no libsystemd}")"
fi

# ldd: the agent's libraries and, through libsystemd, libsystemd's own (lzma, zstd, lz4,
# gcrypt...): those come with systemd wherever it runs, not with the agent.
libsystemd=$(ldd "$agent" | awk '$1 == "libsystemd.so.0" {print $3}')
ldd_libs() { ldd "$1" | awk '{print $1}' | grep -v '^linux-vdso' | sed 's|.*/||' | sort -u; }
from_agent=$(comm -23 <(ldd_libs "$agent") <(ldd_libs "${libsystemd:-/dev/null}" 2>/dev/null))
others=$(grep -vE "$libc_family" <<<"$from_agent" | grep -vx 'libsystemd.so.0' || true)
count=$(ldd_libs "$agent" | wc -l)
if [ -n "$libsystemd" ] && [ -z "$others" ]; then
  report "ldd" PASS "$count libraries: the C library, libsystemd and libsystemd's own"
else
  report "ldd" FAIL "not from the C library or libsystemd: $(tr '\n' ' ' <<<"$others")"
fi

glibc=$(objdump -T "$agent" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n1)
highest=$(printf '%s\n' "${glibc#GLIBC_}" "$max_glibc" | sort -V | tail -n1)
if [ -n "$glibc" ] && [ "$highest" = "$max_glibc" ]; then
  report "glibc" PASS "needs $glibc at most (limit GLIBC_$max_glibc)"
else
  report "glibc" FAIL "needs ${glibc:-no GLIBC_ version}, above GLIBC_$max_glibc"
fi

requires=$(rpm -qp --requires "$rpm" 2>/dev/null | grep '\.so' | sort -u)
others=$(grep -vE '^(libc|libm|libpthread|libdl|librt|libsystemd|ld-linux-x86-64)\.so' \
         <<<"$requires" || true)
if [ -z "$others" ]; then
  report "rpm requires" PASS "$(sed 's/(.*//' <<<"$requires" | sort -u | tr '\n' ' ')"
else
  report "rpm requires" FAIL "other libraries: $(tr '\n' ' ' <<<"$others")"
fi
[ -n "$run_root" ] || exit "$failed"

# --- The agent in the Debian 11 root, against a collector on this host's loopback -------------
in_root() { chroot "$run_root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
mountpoint -q "$run_root/proc" || mount -t proc proc "$run_root/proc"
dir=/var/tmp/portable-agent-check
rm -rf "${run_root:?}$dir" && mkdir -p "$run_root$dir"
cp "$agent" "$run_root$dir/vigil-agent"
# shellcheck disable=SC1091 # the root's
os=$(. "$run_root/etc/os-release" && echo "${ID^} $VERSION_ID")

# A private CA and the collector's certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=vigil-ca \
  -keyout "$work/ca.key" -out "$run_root$dir/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
openssl x509 -req -in "$work/server.csr" -CA "$run_root$dir/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -extfile <(echo 'subjectAltName=IP:127.0.0.1') \
  -out "$work/server.pem" 2>/dev/null

# run_agent SCHEME [CA_FILE]: a collector on a free loopback port, the agent enrolled with it
# and started in the root; true once the REST API shows it ONLINE (within 30 s).
run_agent() {
  local scheme=$1 ca=${2:-} tls=() url admin token id state=$dir/state-$1
  [ "$scheme" = http ] || tls=(--define=tls.certificateFile="$work/server.pem"
                               --define=tls.privateKeyFile="$work/server.key")
  rm -f "$work/port"
  "$collector" --data-dir="$work/collector-$scheme" --http-address=127.0.0.1 --http-port=0 \
    --port-file="$work/port" --define=beacon.port=0 --define=heartbeat.intervalSeconds=2 \
    "${tls[@]}" >"$work/collector-$scheme.log" 2>&1 &
  collector_pid=$!
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
  [ -s "$work/port" ] || { tail -n 5 "$work/collector-$scheme.log" >&2; return 1; }
  url=$scheme://127.0.0.1:$(cat "$work/port")
  for _ in $(seq 50); do
    [ -s "$work/collector-$scheme/admin-token" ] && [ -s "$work/collector-$scheme/enroll-token" ] &&
      break
    sleep 0.1
  done
  admin=$(cat "$work/collector-$scheme/admin-token")
  token=$(cat "$work/collector-$scheme/enroll-token")
  mkdir -p "$run_root$state"
  # Over HTTPS, the private CA is trusted only through ca_file: without it, no enrollment.
  if [ -n "$ca" ]; then
    if in_root "$dir/vigil-agent" enroll --server "$url" --token "$token" \
         --state-dir "$state" --config /dev/null >"$work/enroll-no-ca.log" 2>&1; then
      echo "enrolled over HTTPS without ca_file: the certificate was not verified" >&2
      return 1
    fi
    grep -q 'SSL certificate problem' "$work/enroll-no-ca.log" ||
      { tail -n 5 "$work/enroll-no-ca.log" >&2; echo "refused, not for the certificate" >&2; return 1; }
    # The static libcurl has no CA path of its own: the agent finds a system bundle, here at
    # the RHEL family's path (in a root that has no /etc/pki, removed again).
    if [ ! -e "$run_root/etc/pki" ]; then
      local bundle=$run_root/etc/pki/tls/certs/ca-bundle.crt rc=0
      mkdir -p "${bundle%/*}" && cp "$run_root$ca" "$bundle"
      in_root "$dir/vigil-agent" enroll --server "$url" --token "$token" \
        --state-dir "$state-bundle" --config /dev/null >"$work/enroll-bundle.log" 2>&1 || rc=$?
      rm -rf "${run_root:?}/etc/pki"
      [ "$rc" = 0 ] ||
        { tail -n 5 "$work/enroll-bundle.log" >&2; echo "the RHEL CA bundle was not used" >&2; return 1; }
      bundle_checked=1
    fi
  fi
  in_root "$dir/vigil-agent" enroll --server "$url" --token "$token" --state-dir "$state" \
    --config /dev/null ${ca:+-D ca_file="$ca"} >"$work/enroll-$scheme.log" 2>&1 ||
    { tail -n 5 "$work/enroll-$scheme.log" >&2; return 1; }
  id=$(python3 -c "import json; print(json.load(open('$run_root$state/identity.json'))['agent_id'])")
  setsid chroot "$run_root" /usr/bin/env -i PATH=/usr/bin:/bin "$dir/vigil-agent" \
    --state-dir "$state" --config /dev/null -D min_interval_s=2 -D start_delay_max_s=0 \
    -D peer_witness=false ${ca:+-D ca_file="$ca"} >"$work/agent-$scheme.log" 2>&1 </dev/null &
  agent_pid=$!
  local status=''
  for _ in $(seq 150); do
    status=$(curl -fsS ${ca:+--cacert "$run_root$ca"} -H "Authorization: Bearer $admin" \
      "$url/api/v1/agents/$id" 2>/dev/null |
      python3 -c "import json,sys; print(json.load(sys.stdin).get('status'))" 2>/dev/null || true)
    [ "$status" = ONLINE ] && break
    sleep 0.2
  done
  kill "$agent_pid" "$collector_pid" 2>/dev/null || true
  wait "$agent_pid" "$collector_pid" 2>/dev/null || true
  agent_pid='' collector_pid=''
  [ "$status" = ONLINE ] || { tail -n 5 "$work/agent-$scheme.log" >&2; return 1; }
}
started=$SECONDS
if run_agent http; then
  report "runs in $os (HTTP)" PASS "enrolled, ONLINE ($((SECONDS - started)) s)"
else
  report "runs in $os (HTTP)" FAIL "not ONLINE (logs above)"
fi
started=$SECONDS
bundle_checked=0
if run_agent https "$dir/ca.pem"; then
  detail="refused without ca_file"
  [ "$bundle_checked" = 0 ] || detail+=", trusted through /etc/pki/tls/certs/ca-bundle.crt"
  report "runs in $os (HTTPS)" PASS "$detail; with ca_file ONLINE ($((SECONDS - started)) s)"
else
  report "runs in $os (HTTPS)" FAIL "not ONLINE (logs above)"
fi
exit "$failed"
