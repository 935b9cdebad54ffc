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
#   agent SITE INDEX NETNS ADDRESS one line per agent (SITE and INDEX from 0)
#   ready
# then reads commands on stdin, one a line, and answers each with one line:
#   cut SITE    the office's uplink goes down (its LAN stays up): "ok cut SITE"
#   heal SITE   the uplink comes back: "ok heal SITE"
# At the end of stdin (the owner exited, however it exited), on SIGTERM, SIGINT or SIGHUP,
# and on any error, everything it made is removed: the processes left in its namespaces are
# killed, the namespaces and the link deleted. Nothing it makes outlives it.
#
# Names carry the owner's pid and a random tag, so runs never collide; labs left behind by an
# owner that no longer runs (a script killed by SIGKILL cannot clean up) are removed at start.
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
router="$lab-r"
host_link="vl$tag" # in this namespace: at most 15 characters

# Every namespace of the lab named `$1` (vigil-lab-OWNER-TAG).
namespaces_of() {
  ip netns list | awk '{print $1}' | grep -E "^$1-" || true
}

# Removes lab `$1`: kills what still runs in its namespaces, deletes them and its host link.
remove_lab() {
  local name=$1 ns pids
  for ns in $(namespaces_of "$name"); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    # shellcheck disable=SC2086 # one pid a word
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    ip netns delete "$ns" 2>/dev/null || true
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

# Labs whose owner is gone.
for ns in $(ip netns list | awk '{print $1}' | grep -E "^$prefix-[0-9]+-[0-9a-f]{8}-r$" || true); do
  stale=${ns%-r}
  stale_owner=${stale#"$prefix"-}
  kill -0 "${stale_owner%-*}" 2>/dev/null || remove_lab "$stale"
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

ip netns add "$router"
ip -n "$router" link set lo up
ip netns exec "$router" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
ip link add "$host_link" type veth peer name uplink netns "$router"
ip addr add "$block.0.1/24" dev "$host_link"
ip link set "$host_link" up
ip -n "$router" addr add "$block.0.2/24" dev uplink
ip -n "$router" link set uplink up
ip route add "$block.0.0/16" via "$block.0.2" dev "$host_link"
flock -u 9
exec 9>&-

echo "collector $block.0.1"
for ((s = 0; s < sites; s++)); do
  subnet="$block.$((s + 1))"
  # The office: a namespace of its own holding its LAN (a bridge) and no address, so nothing on
  # the LAN reaches the router but through its uplink port; the router's end of the
  # uplink (gw<s>) is the office's gateway.
  office="$lab-o$s"
  ip netns add "$office"
  ip -n "$office" link add lan type bridge
  ip -n "$office" link set lan up
  ip -n "$router" link add "gw$s" type veth peer name uplink netns "$office"
  ip -n "$office" link set dev uplink master lan up
  ip -n "$router" addr add "$subnet.1/24" dev "gw$s"
  ip -n "$router" link set "gw$s" up
  for ((a = 0; a < per_site; a++)); do
    ns="$lab-s${s}a$a"
    address="$subnet.$((a + 10))"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$office" link add "a$a" type veth peer name eth0 netns "$ns"
    ip -n "$office" link set "a$a" master lan up
    ip -n "$ns" addr add "$address/24" brd + dev eth0
    # Its IPv6 link-local address usable at once: duplicate address detection would finish
    # a second or two after the agent started, a network change that makes it beat early
    # and moves the heartbeat phase its start time set.
    dad=/proc/sys/net/ipv6/conf/eth0/accept_dad
    ip netns exec "$ns" sh -c "[ ! -w $dad ] || echo 0 >$dad"
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$subnet.1"
    echo "agent $s $a $ns $address"
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
      elif [ "$command" = cut ] && ip -n "$lab-o$site" link set dev uplink down; then
        echo "ok cut $site"
      elif [ "$command" = heal ] && ip -n "$lab-o$site" link set dev uplink up; then
        echo "ok heal $site"
      else
        echo "error $command $site failed"
      fi
      ;;
    *) echo "error unknown command $command" ;;
  esac
done
