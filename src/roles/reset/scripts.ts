/**
 * The shell that reset runs on a host, each script in two modes: `probe` prints one line per
 * thing still there (read-only: what a plan shows and what decides whether a step is needed) and
 * `remove` removes them. Every step tolerates what is already gone, so an interrupted reset is
 * finished by the next one. Bounded: each kill waits a few seconds at most.
 */

/**
 * $1 probe|remove, $2 the route protocol of kprov's pod routes, $3 the directories pods mount
 * into (colon-separated), then the units in stop order.
 * Stops the units, kills every container and sandbox (ctr, while containerd still runs), stops
 * containerd and its shims, unmounts what pods mounted, deletes pod network namespaces, the
 * cni0 bridge, kprov's pod routes and the KUBE-/CNI- iptables chains.
 */
export const STOP_SCRIPT = String.raw`mode=$1; proto=$2; roots=$3; shift 3
export LC_ALL=C
ctr_ns() { ctr -n k8s.io "$@" 2>/dev/null; }
mounts() { for root in $(echo "$roots" | tr ':' ' '); do awk -v r="$root" 'index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo; done | sort -r -u; }
chains() { command -v iptables-save >/dev/null 2>&1 || return 0; for t in nat filter mangle; do iptables-save -t $t 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\|CNI-[^ ]*\) .*/\1/p' | sed "s/^/$t /"; done; }
if [ "$mode" = probe ]; then
  for u in "$@" containerd.service; do
    if [ -e "/etc/systemd/system/$u" ] || systemctl is-active --quiet "$u"; then echo "unit $u"; fi
  done
  if command -v ctr >/dev/null 2>&1 && systemctl is-active --quiet containerd.service; then
    n=$(ctr_ns containers ls -q | grep -c .); [ "$n" -gt 0 ] && echo "containers $n"
  fi
  mounts | sed 's/^/mount /'
  ls /run/netns 2>/dev/null | grep '^cni-' | sed 's/^/netns /'
  ip link show cni0 >/dev/null 2>&1 && echo "link cni0"
  ip route show proto "$proto" 2>/dev/null | sed 's/^/route /'
  chains | sed 's/^/chain /'
  exit 0
fi
for u in "$@"; do systemctl disable --now "$u" >/dev/null 2>&1 || true; done
if command -v ctr >/dev/null 2>&1 && systemctl is-active --quiet containerd.service; then
  for t in $(ctr_ns tasks ls -q); do ctr_ns tasks kill -s SIGKILL "$t"; done
  for i in 1 2 3 4 5 6 7 8 9 10; do [ -z "$(ctr_ns tasks ls -q | head -n1)" ] && break; sleep 0.5; for t in $(ctr_ns tasks ls -q); do ctr_ns tasks delete -f "$t"; done; done
  for c in $(ctr_ns containers ls -q); do ctr_ns containers delete "$c"; done
fi
systemctl disable --now containerd.service >/dev/null 2>&1 || true
# [c]: the pattern must not match this script's own command line.
pkill -KILL -f '[c]ontainerd-shim' 2>/dev/null || true
for i in 1 2 3 4 5 6 7 8 9 10; do pgrep -f '[c]ontainerd-shim' >/dev/null 2>&1 || break; sleep 0.3; done
for m in $(mounts); do umount -l "$m" 2>/dev/null || true; done
for n in $(ls /run/netns 2>/dev/null | grep '^cni-'); do ip netns delete "$n" 2>/dev/null || rm -f "/run/netns/$n"; done
ip link delete cni0 2>/dev/null || true
ip route flush proto "$proto" 2>/dev/null || true
if command -v iptables-save >/dev/null 2>&1; then
  for t in nat filter mangle; do
    iptables-save -t $t | sed -n 's/^-A \(PREROUTING\|INPUT\|FORWARD\|OUTPUT\|POSTROUTING\) \(.*-j \(KUBE-\|CNI-\).*\)$/\1 \2/p' | while read -r chain rule; do eval "iptables -t $t -D $chain $rule" 2>/dev/null || true; done
    for c in $(iptables-save -t $t | sed -n 's/^:\(KUBE-[^ ]*\|CNI-[^ ]*\) .*/\1/p'); do iptables -t $t -F "$c" 2>/dev/null || true; done
    for c in $(iptables-save -t $t | sed -n 's/^:\(KUBE-[^ ]*\|CNI-[^ ]*\) .*/\1/p'); do iptables -t $t -X "$c" 2>/dev/null || true; done
  done
fi
exit 0
`;

/**
 * $1 probe|remove, then the paths. Probe prints `path P` for each that exists. Remove deletes
 * them; a mount point (the lab binds /var/lib/containerd) keeps the directory and loses its
 * contents. The audit log also takes its rotated siblings. Paths after `--written-by-kprov` are
 * files in directories kprov shares with others (/etc/nginx): each goes only when its first line
 * says kprov wrote it, and its directory only when that leaves it empty. Then systemd forgets
 * removed units.
 */
export const FILES_SCRIPT = String.raw`mode=$1; shift
export LC_ALL=C
ours() { head -n 1 -- "$1" 2>/dev/null | grep -q '^# Written by kprov'; }
if [ "$mode" = probe ]; then
  owned=
  for p in "$@"; do
    if [ "$p" = --written-by-kprov ]; then owned=1; continue; fi
    if [ -n "$owned" ]; then ours "$p" && echo "path $p"; continue; fi
    if mountpoint -q "$p" 2>/dev/null; then [ -n "$(ls -A "$p" 2>/dev/null)" ] && echo "path $p (contents)"
    elif [ -e "$p" ] || [ -L "$p" ]; then echo "path $p"; fi
  done
  exit 0
fi
owned=
for p in "$@"; do
  if [ "$p" = --written-by-kprov ]; then owned=1; continue; fi
  if [ -n "$owned" ]; then
    if ours "$p"; then rm -f -- "$p"; rmdir -- "$(dirname "$p")" 2>/dev/null || true; fi
    continue
  fi
  if mountpoint -q "$p" 2>/dev/null; then find "$p" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} + ; else rm -rf -- "$p"; fi
  case "$p" in *.log) for r in "$(dirname "$p")/$(basename "$p" .log)"-*.log; do [ -e "$r" ] && rm -f -- "$r"; done ;; esac
done
systemctl daemon-reload
systemctl reset-failed >/dev/null 2>&1 || true
exit 0
`;

/** $1 probe|remove, $2 the key's `type base64`: the lines of authorized_keys that hold it. */
export const SSH_KEY_SCRIPT = String.raw`mode=$1; key=$2
f=$HOME/.ssh/authorized_keys
[ -f "$f" ] || exit 0
if [ "$mode" = probe ]; then grep -qF -- "$key" "$f" && echo "key $key"; exit 0; fi
tmp=$(mktemp "$f.XXXXXX") || exit 1
grep -vF -- "$key" "$f" > "$tmp"; chmod 600 "$tmp"; mv -f -- "$tmp" "$f"
`;
