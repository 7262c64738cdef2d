#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# deploy/: the Kubernetes manifest parses as YAML and has what a node needs (hostPID, the
# node's bpffs, cgroup v2 root and BTF, the monitor with its Prometheus port matching the
# scrape annotations, the policy container applying the ConfigMap, whose policies.conf is
# valid); the Grafana dashboard parses as JSON and every metric and label it queries is one
# the monitor exports: checked against the names in the exporter's source, and against a
# real `hbctl monitor --textfile` run in a child cgroup once the monitor exists.
. "$(dirname "$0")/_lib.sh"
need_cmd python3
HBCTL=$O/hbctl
# Debian's python3 carries python3-yaml (scripts/deps.sh); a python3 earlier in PATH may not
PYY=python3; [ -x /usr/bin/python3 ] && PYY=/usr/bin/python3
need_built "$HBCTL"
"$PYY" -c 'import yaml' 2>/dev/null || { echo "Bail out! python3-yaml missing (scripts/deps.sh)"; exit 1; }
D=$HB_ROOT/deploy
K8S=$D/kubernetes/hbkeep.yaml
DASH=$D/grafana/hbkeep-dashboard.json

# ---- Kubernetes manifest ---------------------------------------------------------------------
"$PYY" - "$K8S" >"$HB_TMP/k8s" 2>&1 <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {d["kind"]: d for d in docs}
print("kinds", " ".join(sorted(kinds)))
ds = kinds["DaemonSet"]
t = ds["spec"]["template"]
spec = t["spec"]
ann = t["metadata"]["annotations"]
print("hostPID", spec.get("hostPID"))
print("scrape", ann.get("prometheus.io/scrape"), ann.get("prometheus.io/port"), ann.get("prometheus.io/path"))
print("selector", ds["spec"]["selector"]["matchLabels"] == t["metadata"]["labels"])
host = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
print("hostpaths", " ".join(sorted(host.values())))
c = {x["name"]: x for x in spec["containers"]}
mon = c["monitor"]
cmd = mon["command"] + mon.get("args", [])
i = cmd.index("--prometheus")
print("monitor", cmd[0], cmd[1], cmd[i + 1].rsplit(":", 1)[1],
      [p["containerPort"] for p in mon["ports"]][0])
for name, x in c.items():
    mounts = {m["mountPath"]: m["name"] for m in x["volumeMounts"]}
    print("mounts", name, all(host.get(mounts.get(p)) == p for p in
                              ("/sys/fs/bpf", "/sys/fs/cgroup", "/sys/kernel/btf")))
pol = c["policy"]
print("policy", "hbctl policy apply" in " ".join(pol["command"] + pol["args"]))
print("policies.conf", "policies.conf" in kinds["ConfigMap"]["data"])
print("namespaces", {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} ==
      {kinds["Namespace"]["metadata"]["name"]})
EOF
rc=$?
check_eq "kubernetes: YAML parses" 0 "$rc"
[ "$rc" = 0 ] || diag "$(cat "$HB_TMP/k8s")"
k() { sed -n "s/^$1 //p" "$HB_TMP/k8s" | head -n1; }
check_eq "kubernetes: Namespace, ServiceAccount, ConfigMap, DaemonSet" \
	"ConfigMap DaemonSet Namespace ServiceAccount" "$(k kinds)"
check_eq "kubernetes: hostPID" True "$(k hostPID)"
check_eq "kubernetes: Prometheus scrape annotations" "true 9464 /metrics" "$(k scrape)"
check_eq "kubernetes: selector matches the pod labels" True "$(k selector)"
check_eq "kubernetes: hostPath mounts of bpffs, cgroup v2, BTF" \
	"/sys/fs/bpf /sys/fs/cgroup /sys/kernel/btf" "$(k hostpaths)"
check_eq "kubernetes: the monitor serves Prometheus on the annotated port" \
	"hbctl monitor 9464 9464" "$(k monitor)"
check_eq "kubernetes: both containers see the node's bpffs, cgroups and BTF" "policy True monitor True" \
	"$(sed -n 's/^mounts //p' "$HB_TMP/k8s" | sort -r | tr '\n' ' ' | sed 's/ $//')"
check_eq "kubernetes: the policy container runs hbctl policy apply" True "$(k policy)"
check_eq "kubernetes: every object in the hbkeep namespace" True "$(k namespaces)"
"$PYY" -c 'import sys, yaml
d = [x for x in yaml.safe_load_all(open(sys.argv[1])) if x and x["kind"] == "ConfigMap"][0]
sys.stdout.write(d["data"]["policies.conf"])' "$K8S" >"$HB_TMP/cm.conf"
check "kubernetes: the ConfigMap's policies.conf is valid (policy apply --check)" \
	eval '"$HBCTL" policy apply --check "$HB_TMP/cm.conf" >/dev/null'
sed 's/^# cgroup=/cgroup=/' "$HB_ROOT/units/policies.conf" >"$HB_TMP/ex.conf"
check "units/policies.conf: its commented examples are valid" \
	eval '"$HBCTL" policy apply --check "$HB_TMP/ex.conf" >/dev/null'

# ---- Grafana dashboard -------------------------------------------------------------------------
"$PYY" - "$DASH" >"$HB_TMP/dash" 2>&1 <<'EOF'
import json, re, sys
d = json.load(open(sys.argv[1]))
panels = d["panels"]
ids = [p["id"] for p in panels]
print("unique_ids", len(ids) == len(set(ids)))
print("targets", all(t.get("expr") for p in panels for t in p["targets"]))
exprs = [t["expr"] for p in panels for t in p["targets"]]
exprs += [v["definition"] for v in d["templating"]["list"] if v.get("definition")]
names = sorted({m for e in exprs for m in re.findall(r"\bhb_[a-z0-9_]+", e)})
print("metrics", " ".join(names))
labels = set()
for e in exprs:
    for grp in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", e):
        labels |= {x.strip() for x in grp.split(",") if x.strip()}
    labels |= set(re.findall(r"[{,]\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", e))
    labels |= set(re.findall(r"label_values\([^,]+,\s*([a-zA-Z_]+)\)", e))
print("labels", " ".join(sorted(labels)))
heat = [p for p in panels if p["type"] == "heatmap"]
print("heatmap", bool(heat) and "hb_idle_gap_seconds_bucket" in heat[0]["targets"][0]["expr"]
      and heat[0]["targets"][0].get("format") == "heatmap")
def has(pat):
    return any(re.search(pat, t["expr"]) for p in panels for t in p["targets"])
print("panels",
      has(r"sum by \(node\) \(rate\(hb_keepalive_probes_sent_total"),
      has(r"sum by \(node\) \(rate\(hb_keepalive_probes_unanswered_total"),
      has(r"sum by \(node, comm\) \(rate\(hb_connection_keepalive_probes_sent_total"),
      has(r"sum by \(node, comm\) \(rate\(hb_connection_keepalive_probes_unanswered_total"),
      has(r"by \(cause\).*hb_connections_closed_total"))
EOF
rc=$?
check_eq "grafana: JSON parses" 0 "$rc"
[ "$rc" = 0 ] || diag "$(cat "$HB_TMP/dash")"
g() { sed -n "s/^$1 //p" "$HB_TMP/dash"; }
check_eq "grafana: unique panel ids, every target has a query" "True True" "$(g unique_ids) $(g targets)"
check_eq "grafana: idle-gap heat map over hb_idle_gap_seconds_bucket" True "$(g heatmap)"
check_eq "grafana: probes and unanswered probes per node and per comm, closes by cause" \
	"True True True True True" "$(g panels)"
read -r -a dash_metrics <<<"$(g metrics)"
read -r -a dash_labels <<<"$(g labels)"
diag "dashboard metrics: ${dash_metrics[*]}"
diag "dashboard labels: ${dash_labels[*]}"
# labels Prometheus adds when it scrapes (target labels; node from the kubernetes-pods job)
SCRAPE_LABELS="node instance job pod namespace"

# The names the exporter can emit, from its source (cli/prom.c): each literal hb_* name, and
# for histograms their _bucket, _count and _sum series.
exported_from_source() {
	local src=$HB_ROOT/cli/prom.c n
	for n in $(grep -o '"hb_[a-z0-9_]*' "$src" | tr -d '"' | sort -u); do
		echo "$n"
		if grep -q "\"$n\", \"histogram\"" "$src"; then echo "${n}_bucket"; echo "${n}_count"; echo "${n}_sum"; fi
	done
}
# missing_in LIST NAME...: the names not in LIST (one a line)
missing_in() { local l=$1 n; shift; for n; do grep -qx "$n" <<<"$l" || printf '%s ' "$n"; done; }

src_names=$(exported_from_source)
check_eq "grafana: every metric is one the exporter's source emits" "" \
	"$(missing_in "$src_names" "${dash_metrics[@]}")"
src_labels=$(grep -Eo 'label\(f, "[a-z_]+"|le=|"cause"|"comm"' "$HB_ROOT/cli/prom.c" |
	sed -E 's/label\(f, "//;s/"//g;s/=//' | sort -u)
check_eq "grafana: every label is one the exporter's source emits, or a scrape label" "" \
	"$(missing_in "$src_labels"$'\n'"${SCRAPE_LABELS// /$'\n'}" "${dash_labels[@]}")"

# ---- the same against a real monitor run -----------------------------------------------------
if ! "$HBCTL" monitor --help >/dev/null 2>&1; then
	skip "live metric names: hbctl has no monitor command yet"
	exit 0
fi
need_root
[ -r /sys/kernel/btf/vmlinux ] || { not_ok "live metric names: the monitor needs BTF"; exit 1; }
CG2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
CGB=$CG2$(sed -n 's/^0:://p' /proc/self/cgroup)
MCG=${CGB%/}/$HB_TEST_ID-mon
mkdir "$MCG" || { echo "Bail out! cannot make cgroup $MCG"; exit 1; }
on_exit "rmdir $MCG"
on_exit "[ -w $MCG/cgroup.kill ] && echo 1 >$MCG/cgroup.kill; sleep 0.2"
NS=$(netns_new mon) || { echo "Bail out! cannot create a network namespace"; exit 1; }
# a connection in the cgroup, with keepalive and some traffic, so that per-connection series exist
run_bg --ns "$NS" python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7300)); s.listen(4)
c, _ = s.accept()
while True:
    d = c.recv(100)
    if not d: break
    c.sendall(d)' >/dev/null 2>&1
wait_port "$NS" 7300 || { echo "Bail out! echo server did not start"; exit 1; }
"$HBCTL" monitor --cgroup "$MCG" -i 1s -d 4s --quiet --conns --textfile "$HB_TMP/mon.prom" \
	>"$HB_TMP/mon.out" 2>&1 &
mpid=$!
bg_pid "$mpid"
sleep 1
bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$MCG" nsenter --net="/run/netns/$NS" python3 -c '
import socket, time
c = socket.create_connection(("127.0.0.1", 7300))
c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
for i in range(3):
    c.sendall(b"x"); c.recv(10); time.sleep(0.3)
time.sleep(4)' >/dev/null 2>&1 &
bg_pid $!
wait "$mpid"
rc=$?
check_eq "live: hbctl monitor --textfile in a child cgroup exits 0" 0 "$rc"
[ "$rc" = 0 ] || diag "$(tail -n 5 "$HB_TMP/mon.out")"
if [ -s "$HB_TMP/mon.prom" ]; then
	live_names=$(grep -v '^#' "$HB_TMP/mon.prom" | sed -E 's/[{ ].*//' | sort -u)
	check_eq "live: every metric of the dashboard is in the monitor's output" "" \
		"$(missing_in "$live_names" "${dash_metrics[@]}")"
	live_labels=$(grep -v '^#' "$HB_TMP/mon.prom" | grep -o '[{,][a-z_]*=' | tr -d '{,=' | sort -u)
	check_eq "live: every label of the dashboard is in the output, or a scrape label" "" \
		"$(missing_in "$live_labels"$'\n'"${SCRAPE_LABELS// /$'\n'}" "${dash_labels[@]}")"
	check "live: the keepalive=\"off\" series the panels filter on exists" \
		grep -q 'hb_open_connections{.*keepalive="off"' "$HB_TMP/mon.prom"
	if command -v promtool >/dev/null; then
		check "live: promtool check metrics" eval 'promtool check metrics <"$HB_TMP/mon.prom" 2>&1 | { ! grep -qi error; }'
	fi
else
	not_ok "live: the monitor wrote no textfile"
fi
