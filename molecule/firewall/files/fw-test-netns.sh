#!/bin/sh
# An IPv6 "outside" for the firewall test: namespace outside6, linked to the
# prod host by a veth pair; the host is fd00:f1::1, the namespace has
# fd00:f1::2 (allowed by the scenario's rules) and fd00:f1::3 (not allowed).
set -eu
ip netns del outside6 2>/dev/null || true
ip link del fw6-host 2>/dev/null || true
ip netns add outside6
ip link add fw6-host type veth peer name fw6-ns netns outside6
sysctl -q -w net.ipv6.conf.fw6-host.disable_ipv6=0
ip addr add fd00:f1::1/64 dev fw6-host nodad
ip link set fw6-host up
ip netns exec outside6 sysctl -q -w net.ipv6.conf.fw6-ns.disable_ipv6=0
ip netns exec outside6 ip link set lo up
ip netns exec outside6 ip addr add fd00:f1::2/64 dev fw6-ns nodad
ip netns exec outside6 ip addr add fd00:f1::3/64 dev fw6-ns nodad
ip netns exec outside6 ip link set fw6-ns up
