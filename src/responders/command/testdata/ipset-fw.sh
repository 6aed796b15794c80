#!/bin/sh
# A "custom ban script" for the command responder's tests, in the style of the OSSIM story's scripts:
# ipset hash:net sets (one per family, per-entry timeouts) matched by a REJECT rule in INPUT.
#   ipset-fw.sh setup | teardown | list
#   ipset-fw.sh ban <target> <family> <seconds>      (0 = no expiry)
#   ipset-fw.sh unban <target> <family>
#   ipset-fw.sh batch ban|unban                       (stdin: "<target> <duration_s> <expires_s> <family>" lines)
# It runs inside the test's network namespace only.
set -eu
SET=pcl-cmd
MAX=2147483

ban() {
  t=$3
  if [ "$t" -gt "$MAX" ]; then t=0; fi
  ipset -exist add "$SET$2" "$1" timeout "$t"
}

case "$1" in
setup)
  ipset -exist create "${SET}4" hash:net family inet timeout 0
  ipset -exist create "${SET}6" hash:net family inet6 timeout 0
  iptables -C INPUT -m set --match-set "${SET}4" src -j REJECT 2>/dev/null ||
    iptables -I INPUT 1 -m set --match-set "${SET}4" src -j REJECT
  ip6tables -C INPUT -m set --match-set "${SET}6" src -j REJECT 2>/dev/null ||
    ip6tables -I INPUT 1 -m set --match-set "${SET}6" src -j REJECT
  ;;
teardown)
  while iptables -D INPUT -m set --match-set "${SET}4" src -j REJECT 2>/dev/null; do :; done
  while ip6tables -D INPUT -m set --match-set "${SET}6" src -j REJECT 2>/dev/null; do :; done
  ipset -exist destroy "${SET}4" 2>/dev/null || true
  ipset -exist destroy "${SET}6" 2>/dev/null || true
  ;;
ban) ban "$2" "$3" "$4" ;;
unban) ipset -exist del "$SET$3" "$2" ;;
batch)
  while read -r target duration expires family; do
    case "$2" in
    ban) ban "$target" "$family" "$duration" ;;
    unban) ipset -exist del "$SET$family" "$target" ;;
    esac
  done
  ;;
list)
  now=$(date +%s)
  for f in 4 6; do
    ipset save "$SET$f" 2>/dev/null || true
  done | awk -v now="$now" '$1 == "add" {
    t = "-"
    for (i = 4; i < NF; i++) if ($i == "timeout" && $(i + 1) > 0) t = now + $(i + 1)
    print $3, t
  }'
  ;;
*)
  echo "usage: $0 setup|teardown|list|ban|unban|batch" >&2
  exit 2
  ;;
esac
