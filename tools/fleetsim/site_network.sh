#!/usr/bin/env bash
# The incident lab's office network (docs/scenarios.md, "Real agents in offices"): real
# vigil-agent processes each in a network namespace of its own, the agents of one office on
# one LAN (a bridge in the office's own namespace), each office's LAN joined to a router by its
# uplink, the router joined to the collector's host (this namespace) by one veth link. Run by
# vigil-fleetsim, as root.
#
#   site_network.sh OWNER_PID SITES AGENTS_PER_SITE
#
# Prints, once everything is up:
#   collector ADDRESS              the address of this namespace the agents reach
#   agent SITE INDEX NETNS ADDRESS one line per agent (SITE and INDEX from 0; NETNS the path
#                                  of its network namespace, for nsenter --net=NETNS)
#   ready
# then reads commands on stdin, one a line, and answers each with one line:
#   cut SITE    the office's uplink goes down (its LAN stays up): "ok cut SITE"
#   heal SITE   the uplink comes back: "ok heal SITE"
# At the end of stdin (the owner exited, however it exited), on SIGTERM, SIGINT or SIGHUP,
# and on any error, everything it made is removed: the processes left in its namespaces are
# killed, the namespaces and the link deleted. Nothing it makes outlives it.
#
# A namespace is held by a process of its own (unshare --net), not named with ip netns: that
# needs no mount (ip netns mounts /run/netns, which fails where / is not a mount point, as in a
# chroot), and a namespace ends with the last process in it. A holder's name (argv[0]) is
# vigil-lab-OWNER-TAG-ROLE; the owner's pid and a random tag keep runs apart, and labs left
# behind by an owner that no longer runs (a script killed by SIGKILL cannot clean up) are
# removed at start.
# Addresses: one free 10.B.0.0/16 per run (a lock keeps two runs from taking the same one);
# no traffic leaves the machine: the router has no default route.
set -euo pipefail

owner=${1:?owner pid}
sites=${2:?number of sites}
per_site=${3:?agents per site}
if ! [[ $owner =~ ^[0-9]+$ && $sites =~ ^[0-9]+$ && $per_site =~ ^[0-9]+$ ]] ||
  [ "$sites" -lt 1 ] || [ "$sites" -gt 250 ] || [ "$per_site" -lt 1 ] || [ "$per_site" -gt 240 ]; then
  echo "site_network: usage: site_network.sh OWNER_PID SITES(1..250) AGENTS_PER_SITE(1..240)" >&2
  exit 2
fi

prefix=vigil-lab
tag=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
lab="$prefix-$owner-$tag"
host_link="vl$tag" # in this namespace: at most 15 characters
our_netns=$(readlink /proc/self/ns/net)

# Pids of the holders of lab `$1`'s namespaces (processes named `$1-ROLE`).
holders_of() {
  local p cmdline
  for p in /proc/[0-9]*; do
    cmdline=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
    [[ $cmdline == "$1-"* ]] && echo "${p#/proc/}"
  done
  return 0
}

# Pids of every process in the network namespace of process `$1` (itself included).
pids_in_netns_of() {
  local target p
  target=$(readlink "/proc/$1/ns/net" 2>/dev/null) || return 0
  [ "$target" != "$our_netns" ] || return 0
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/net" 2>/dev/null)" != "$target" ] || echo "${p#/proc/}"
  done
}

# Removes lab `$1`: kills everything in its namespaces (which ends them, and their links),
# and deletes its host link.
remove_lab() {
  local name=$1 holder pids
  for holder in $(holders_of "$name"); do
    pids=$(pids_in_netns_of "$holder")
    # shellcheck disable=SC2086 # one pid a word
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
  done
  ip link delete "vl${name##*-}" 2>/dev/null || true
}

teardown() {
  trap - EXIT
  remove_lab "$lab"
}
trap teardown EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

# A new network namespace for role `$1`, held by a process named $lab-$1; sets `netns_pid`.
new_netns() {
  unshare --net -- bash -c "exec -a '$lab-$1' sleep infinity" </dev/null >/dev/null 2>&1 9>&- &
  netns_pid=$!
  disown "$netns_pid" # killed at teardown: no "Killed" report
  local i
  for ((i = 0; i < 200; i++)); do
    if [ "$(readlink "/proc/$netns_pid/ns/net" 2>/dev/null)" != "$our_netns" ] &&
      [[ $(tr '\0' ' ' <"/proc/$netns_pid/cmdline" 2>/dev/null) == "$lab-$1 "* ]]; then
      return 0
    fi
    kill -0 "$netns_pid" 2>/dev/null || break
    sleep 0.01
  done
  echo "site_network: cannot make a network namespace (unshare --net)" >&2
  exit 1
}

# Runs `$2...` in the network namespace of process `$1`.
in_netns() {
  local pid=$1
  shift
  nsenter --net="/proc/$pid/ns/net" -- "$@"
}

# Labs whose owner is gone.
for p in /proc/[0-9]*; do
  cmdline=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
  [[ $cmdline =~ ^($prefix-([0-9]+)-[0-9a-f]{8})-r\  ]] || continue
  kill -0 "${BASH_REMATCH[2]}" 2>/dev/null || remove_lab "${BASH_REMATCH[1]}"
done

# A /16 of 10/8 that no route of this namespace touches, taken under a lock until its route
# is in place.
lock_file=/run/lock/$prefix.lock
[ -d /run/lock ] || lock_file=/tmp/$prefix.lock
exec 9>"$lock_file"
flock 9
block=""
for i in $(seq 0 190); do
  b=$(((owner + i) % 191 + 64))
  if [ -z "$(ip -4 route show root "10.$b.0.0/16")" ] &&
    [ -z "$(ip -4 route show match "10.$b.0.0/16" | grep -v '^default' || true)" ]; then
    block=10.$b
    break
  fi
done
[ -n "$block" ] || {
  echo "site_network: no free 10.B.0.0/16 left in this namespace" >&2
  exit 1
}

new_netns r
router=$netns_pid
in_netns "$router" ip link set lo up
in_netns "$router" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
ip link add "$host_link" type veth peer name uplink netns "$router"
ip addr add "$block.0.1/24" dev "$host_link"
ip link set "$host_link" up
in_netns "$router" ip addr add "$block.0.2/24" dev uplink
in_netns "$router" ip link set uplink up
ip route add "$block.0.0/16" via "$block.0.2" dev "$host_link"
flock -u 9
exec 9>&-

echo "collector $block.0.1"
offices=()
for ((s = 0; s < sites; s++)); do
  subnet="$block.$((s + 1))"
  # The office: a namespace of its own holding its LAN (a bridge) and no address, so nothing on
  # the LAN reaches the router but through its uplink port; the router's end of the
  # uplink (gw<s>) is the office's gateway.
  new_netns "o$s"
  office=$netns_pid
  offices+=("$office")
  in_netns "$office" ip link add lan type bridge
  in_netns "$office" ip link set lan up
  in_netns "$router" ip link add "gw$s" type veth peer name uplink netns "$office"
  in_netns "$office" ip link set dev uplink master lan up
  in_netns "$router" ip addr add "$subnet.1/24" dev "gw$s"
  in_netns "$router" ip link set "gw$s" up
  for ((a = 0; a < per_site; a++)); do
    new_netns "s${s}a$a"
    host=$netns_pid
    address="$subnet.$((a + 10))"
    in_netns "$host" ip link set lo up
    in_netns "$office" ip link add "a$a" type veth peer name eth0 netns "$host"
    in_netns "$office" ip link set "a$a" master lan up
    in_netns "$host" ip addr add "$address/24" brd + dev eth0
    # Its IPv6 link-local address usable at once: duplicate address detection would finish
    # a second or two after the agent started, a network change that makes it beat early
    # and moves the heartbeat phase its start time set.
    dad=/proc/sys/net/ipv6/conf/eth0/accept_dad
    in_netns "$host" sh -c "[ ! -w $dad ] || echo 0 >$dad"
    in_netns "$host" ip link set eth0 up
    in_netns "$host" ip route add default via "$subnet.1"
    echo "agent $s $a /proc/$host/ns/net $address"
  done
done
echo ready

site_index() {
  [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -lt "$sites" ]
}
while read -r command site; do
  case "$command" in
    cut | heal)
      if ! site_index "${site:-}"; then
        echo "error no site ${site:-}"
      elif [ "$command" = cut ] && in_netns "${offices[$site]}" ip link set dev uplink down; then
        echo "ok cut $site"
      elif [ "$command" = heal ] && in_netns "${offices[$site]}" ip link set dev uplink up; then
        echo "ok heal $site"
      else
        echo "error $command $site failed"
      fi
      ;;
    *) echo "error unknown command $command" ;;
  esac
done
