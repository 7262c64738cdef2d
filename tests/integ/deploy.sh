#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# deploy/: the Kubernetes manifest parses as YAML, has what a node needs (the node's bpffs,
# cgroup v2 root and BTF, hostPID for the monitor, its Prometheus port matching the scrape
# annotations, the policy container applying the ConfigMap, whose policies.conf is valid) and
# nothing more (least privilege, below); the Grafana dashboard parses as JSON and every metric and label it queries is one
# the monitor exports: checked against the names in the exporter's source, and against a
# real `hbctl monitor --textfile` run in a child cgroup once the monitor exists (under the
# monitor unit's UMask, its textfile must still be mode 644 for node_exporter).
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
# Least privilege (issue 13): no container privileged; each drops ALL capabilities and adds
# exactly the ones its systemd unit keeps; no privilege escalation; read-only root file
# system; a seccomp profile (a Localhost one must be shipped beside the manifest); hostPID
# only where the monitor runs; no host network (a NetworkPolicy would not apply); a
# NetworkPolicy admitting only the Prometheus namespace, and only to the metrics port.
"$PYY" - "$K8S" "$HB_ROOT/units" >"$HB_TMP/k8s" 2>&1 <<'EOF'
import os, re, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
unitdir = sys.argv[2]
kinds = {}
for d in docs:
    kinds.setdefault(d["kind"], []).append(d)
print("kinds", " ".join(sorted("%s%s" % (k, "x%d" % len(v) if len(v) > 1 else "") for k, v in kinds.items())))
dss = kinds["DaemonSet"]
# container name -> (DaemonSet, pod template, container)
c = {}
for ds in dss:
    t = ds["spec"]["template"]
    print("selector", ds["metadata"]["name"], ds["spec"]["selector"]["matchLabels"] == t["metadata"]["labels"])
    for x in t["spec"]["containers"] + t["spec"].get("initContainers", []):
        c[x["name"]] = (ds, t, x)
print("containers", " ".join(sorted(c)))
mon_ds, mon_t, mon = c["monitor"]
pol_ds, pol_t, pol = c["policy"]
print("apart", mon_ds is not pol_ds)
print("hostPID", " ".join("%s=%s" % (n, bool(t["spec"].get("hostPID"))) for n, (ds, t, x) in sorted(c.items())))
print("hostNetwork", any(ds["spec"]["template"]["spec"].get("hostNetwork") for ds in dss))
ann = mon_t["metadata"].get("annotations", {})
print("scrape", ann.get("prometheus.io/scrape"), ann.get("prometheus.io/port"), ann.get("prometheus.io/path"))
for n, (ds, t, x) in c.items():
    host = {v["name"]: v["hostPath"]["path"] for v in t["spec"]["volumes"] if "hostPath" in v}
    mounts = {m["mountPath"]: m for m in x["volumeMounts"]}
    print("mounts", n, all(host.get(mounts[p]["name"]) == p for p in
                             ("/sys/fs/bpf", "/sys/fs/cgroup", "/sys/kernel/btf") if p in mounts)
          and len([p for p in ("/sys/fs/bpf", "/sys/fs/cgroup", "/sys/kernel/btf") if p in mounts]) == 3,
          mounts["/sys/fs/cgroup"].get("readOnly") is True)
    print("hostpaths", n, " ".join(sorted(host.values())))
cmd = mon["command"] + mon.get("args", [])
i = cmd.index("--prometheus")
metrics_port = [p["containerPort"] for p in mon["ports"]][0]
print("monitor", cmd[0], cmd[1], cmd[i + 1], metrics_port)
print("policy", "hbctl policy apply" in " ".join(pol["command"] + pol["args"]))
print("policies.conf", "policies.conf" in kinds["ConfigMap"][0]["data"])
print("namespaces", {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} ==
      {kinds["Namespace"][0]["metadata"]["name"]})

# capabilities a unit keeps: CapabilityBoundingSet=CAP_X CAP_Y
def unit_caps(name):
    for line in open(os.path.join(unitdir, name)):
        if line.startswith("CapabilityBoundingSet="):
            return sorted(w[4:] for w in line.split("=", 1)[1].split())
    return None
unit_of = {"monitor": "hbkeep-monitor.service.in", "policy": "hbkeep-policy.service.in"}
for n, (ds, t, x) in sorted(c.items()):
    sc = x.get("securityContext") or {}
    psc = t["spec"].get("securityContext") or {}
    caps = sc.get("capabilities") or {}
    print("sec", n, "privileged=%s" % bool(sc.get("privileged")),
          "escalation=%s" % sc.get("allowPrivilegeEscalation"),
          "rootfs_ro=%s" % sc.get("readOnlyRootFilesystem"),
          "drop=%s" % ",".join(caps.get("drop") or []))
    print("caps", n, " ".join(sorted(caps.get("add") or [])))
    print("unitcaps", n, " ".join(unit_caps(unit_of[n]) or ["?"]))
    # the effective seccomp profile: the container's, else the pod's
    prof = sc.get("seccompProfile") or psc.get("seccompProfile") or {}
    typ = prof.get("type")
    ok = typ == "RuntimeDefault" or (typ == "Localhost" and os.path.isfile(
        os.path.join(os.path.dirname(sys.argv[1]), os.path.basename(prof.get("localhostProfile", "")))))
    print("seccomp", n, typ, ok)
    # AppArmor: the field (1.30+); the older annotation, if there too, must say the same
    aa = (sc.get("appArmorProfile") or psc.get("appArmorProfile") or {}).get("type")
    an = (t["metadata"].get("annotations") or {}).get("container.apparmor.security.beta.kubernetes.io/" + n)
    want = {None: None, "Unconfined": "unconfined", "RuntimeDefault": "runtime/default"}.get(aa, "localhost/")
    print("apparmor", n, aa, an is None or an == want or (want == "localhost/" and an.startswith(want)))

# NetworkPolicies: which select the monitor's / the policy's pods, and what they admit
def selects(np, labels):
    sel = np["spec"]["podSelector"]
    return all(labels.get(k) == v for k, v in (sel.get("matchLabels") or {}).items()) and \
        not sel.get("matchExpressions")
mlabels = mon_t["metadata"]["labels"]
plabels = pol_t["metadata"]["labels"]
nps = kinds.get("NetworkPolicy", [])
for who, labels in (("monitor", mlabels), ("policy", plabels)):
    sel = [np for np in nps if selects(np, labels)]
    types = sorted({t for np in sel for t in np["spec"].get("policyTypes", [])})
    ingress = [r for np in sel for r in np["spec"].get("ingress", [])]
    egress = [r for np in sel for r in np["spec"].get("egress", [])]
    peers = []
    for r in ingress:
        for f in r.get("from", [{}]) or [{}]:
            if set(f) == {"namespaceSelector"} and set(f["namespaceSelector"]) == {"matchLabels"} and \
               list(f["namespaceSelector"]["matchLabels"]) == ["kubernetes.io/metadata.name"]:
                peers.append("ns:" + f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
            else:
                peers.append("other:" + repr(f))
        if not r.get("from"):
            peers.append("anyone")
    ports = sorted({"%s/%s" % (p.get("protocol", "TCP"), p.get("port")) for r in ingress for p in (r.get("ports") or [{"port": "any"}])})
    print("netpol", who, len(sel), ",".join(types), " ".join(sorted(set(peers))) or "-",
          " ".join(ports) or "-", len(egress))
print("metrics_port", "TCP/%d" % metrics_port)
EOF
rc=$?
check_eq "kubernetes: YAML parses" 0 "$rc"
[ "$rc" = 0 ] || diag "$(cat "$HB_TMP/k8s")"
k() { sed -n "s/^$1 //p" "$HB_TMP/k8s" | head -n1; }
kk() { sed -n "s/^$1 $2 //p" "$HB_TMP/k8s" | head -n1; }
check_eq "kubernetes: Namespace, ServiceAccount, ConfigMap, 2 DaemonSets, 2 NetworkPolicies" \
	"ConfigMap DaemonSetx2 Namespace NetworkPolicyx2 ServiceAccount" "$(k kinds)"
check_eq "kubernetes: containers monitor and policy" "monitor policy" "$(k containers)"
check_eq "kubernetes: the monitor and the policy container in DaemonSets of their own" True "$(k apart)"
check_eq "kubernetes: hostPID only for the monitor" "monitor=True policy=False" "$(k hostPID)"
check_eq "kubernetes: no host network (NetworkPolicies do not apply there)" False "$(k hostNetwork)"
check_eq "kubernetes: Prometheus scrape annotations on the monitor's pods" "true 9464 /metrics" "$(k scrape)"
check_eq "kubernetes: each selector matches its pod labels" "hbkeep-monitor True|hbkeep-policy True" \
	"$(sed -n 's/^selector //p' "$HB_TMP/k8s" | sort | paste -sd'|')"
for n in monitor policy; do
	check_eq "kubernetes: $n: hostPath mounts of bpffs, cgroup v2 (read-only), BTF" \
		"True True" "$(kk mounts $n)"
	check_eq "kubernetes: $n: no other hostPath" "/sys/fs/bpf /sys/fs/cgroup /sys/kernel/btf" "$(kk hostpaths $n)"
	check_eq "kubernetes: $n: not privileged, no privilege escalation, read-only root, drops ALL" \
		"privileged=False escalation=False rootfs_ro=True drop=ALL" "$(kk sec $n)"
	check_eq "kubernetes: $n: adds exactly the capabilities its systemd unit keeps" \
		"$(kk unitcaps $n)" "$(kk caps $n)"
	check "kubernetes: $n: a seccomp profile (RuntimeDefault, or a Localhost one shipped in deploy/kubernetes/): $(kk seccomp $n)" \
		eval '[[ "$(kk seccomp $n)" == *" True" ]]'
	check "kubernetes: $n: AppArmor unconfined (the default profile denies pins in /sys/fs/bpf), no annotation saying otherwise: $(kk apparmor $n)" \
		eval '[[ "$(kk apparmor $n)" == "Unconfined True" ]]'
done
check_eq "kubernetes: the policy container adds BPF, NET_ADMIN, PERFMON" "BPF NET_ADMIN PERFMON" "$(kk caps policy)"
check_eq "kubernetes: the monitor adds BPF, DAC_READ_SEARCH, NET_ADMIN, PERFMON, SYS_PTRACE" \
	"BPF DAC_READ_SEARCH NET_ADMIN PERFMON SYS_PTRACE" "$(kk caps monitor)"
check_eq "kubernetes: the monitor serves Prometheus on the annotated port, on an explicit address" \
	"hbctl monitor 0.0.0.0:9464 9464" "$(k monitor)"
# netpol WHO: policies selecting the pods, policyTypes, peers admitted, ports, egress rules
check_eq "kubernetes: NetworkPolicy: only namespace monitoring, only to the metrics port, no egress" \
	"1 Egress,Ingress ns:monitoring $(k metrics_port) 0" "$(kk netpol monitor)"
check_eq "kubernetes: NetworkPolicy: the policy pods admit nothing and reach nothing" \
	"1 Egress,Ingress - - 0" "$(kk netpol policy)"
check_eq "kubernetes: the policy container runs hbctl policy apply" True "$(k policy)"

# Against the Kubernetes API's own types (python3-kubernetes: its models, Kubernetes 1.22):
# each object deserialised into its model and back must keep every field: a misspelt or
# misplaced one (readOnlyRootFileSystem, mountPropagaton) is dropped, a missing required one
# refused. appArmorProfile (Kubernetes 1.30) is newer than the models and allowed as such.
if "$PYY" -c 'import kubernetes' 2>/dev/null; then
	"$PYY" - "$K8S" >"$HB_TMP/schema" 2>&1 <<'EOF'
import sys, yaml
from kubernetes.client import ApiClient
from kubernetes.client.configuration import Configuration
cfg = Configuration()
cfg.client_side_validation = True
api = ApiClient(configuration=cfg)
MODEL = {("v1", "Namespace"): "V1Namespace", ("v1", "ServiceAccount"): "V1ServiceAccount",
         ("v1", "ConfigMap"): "V1ConfigMap", ("apps/v1", "DaemonSet"): "V1DaemonSet",
         ("networking.k8s.io/v1", "NetworkPolicy"): "V1NetworkPolicy"}
NEWER = {"appArmorProfile"}
def diff(a, b, path):
    if isinstance(a, dict):
        if not isinstance(b, dict):
            return ["%s: %r read as %r" % (path, a, b)]
        out = []
        for k, v in a.items():
            if k not in b:
                if k not in NEWER:
                    out.append("%s.%s: not a field of the API" % (path, k))
            else:
                out += diff(v, b[k], path + "." + k)
        return out
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return ["%s: the list read differently" % path]
        return [e for i, (x, y) in enumerate(zip(a, b)) for e in diff(x, y, "%s[%d]" % (path, i))]
    return [] if str(a) == str(b) else ["%s: %r read as %r" % (path, a, b)]
for d in yaml.safe_load_all(open(sys.argv[1])):
    if not d:
        continue
    name = "%s/%s" % (d["kind"], d["metadata"]["name"])
    m = MODEL.get((d.get("apiVersion"), d["kind"]))
    if not m:
        print("%s: no model for %s %s" % (name, d.get("apiVersion"), d["kind"]))
        continue
    try:
        back = api.sanitize_for_serialization(api._ApiClient__deserialize(d, m))
    except Exception as e:
        print("%s: %s" % (name, str(e).splitlines()[0]))
        continue
    for line in diff(d, back, name):
        print(line)
EOF
	rc=$?
	check_eq "kubernetes: every object reads as its API type, no field unknown (python3-kubernetes)" \
		"0 " "$rc $(head -n 5 "$HB_TMP/schema")"
else
	not_ok "kubernetes: API types: python3-kubernetes missing (scripts/deps.sh)"
fi
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
names = sorted({m for e in exprs for m in re.findall(r"\bhbkeep_[a-z0-9_]+", e)})
print("metrics", " ".join(names))
print("old_names", " ".join(sorted({m for e in exprs for m in re.findall(r"\bhb_[a-z0-9_]+", e)})))
labels = set()
for e in exprs:
    for grp in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", e):
        labels |= {x.strip() for x in grp.split(",") if x.strip()}
    labels |= set(re.findall(r"[{,]\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", e))
    labels |= set(re.findall(r"label_values\([^,]+,\s*([a-zA-Z_]+)\)", e))
print("labels", " ".join(sorted(labels)))
heat = [p for p in panels if p["type"] == "heatmap"]
print("heatmap", bool(heat) and "hbkeep_idle_gap_seconds_bucket" in heat[0]["targets"][0]["expr"]
      and heat[0]["targets"][0].get("format") == "heatmap")
def has(pat):
    return any(re.search(pat, t["expr"]) for p in panels for t in p["targets"])
print("panels",
      has(r"sum by \(node\) \(rate\(hbkeep_keepalive_probes_sent_total"),
      has(r"sum by \(node\) \(rate\(hbkeep_keepalive_probes_unanswered_total"),
      has(r"sum by \(node, comm\) \(rate\(hbkeep_connection_keepalive_probes_sent_total"),
      has(r"sum by \(node, comm\) \(rate\(hbkeep_connection_keepalive_probes_unanswered_total"),
      has(r"by \(cause\).*hbkeep_connections_closed_total"))
EOF
rc=$?
check_eq "grafana: JSON parses" 0 "$rc"
[ "$rc" = 0 ] || diag "$(cat "$HB_TMP/dash")"
g() { sed -n "s/^$1 //p" "$HB_TMP/dash"; }
check_eq "grafana: unique panel ids, every target has a query" "True True" "$(g unique_ids) $(g targets)"
check_eq "grafana: idle-gap heat map over hbkeep_idle_gap_seconds_bucket" True "$(g heatmap)"
check_eq "grafana: probes and unanswered probes per node and per comm, closes by cause" \
	"True True True True True" "$(g panels)"
read -r -a dash_metrics <<<"$(g metrics)"
check_eq "grafana: no metric under the old hb_ prefix (the exporter's is hbkeep_)" "" "$(g old_names)"
read -r -a dash_labels <<<"$(g labels)"
diag "dashboard metrics: ${dash_metrics[*]}"
diag "dashboard labels: ${dash_labels[*]}"
# labels Prometheus adds when it scrapes (target labels; node from the kubernetes-pods job)
SCRAPE_LABELS="node instance job pod namespace"

# The names the exporter can emit, from its source (cli/prom.c): each literal hbkeep_* name, and
# for histograms their _bucket, _count and _sum series.
exported_from_source() {
	local src=$HB_ROOT/cli/prom.c n
	for n in $(grep -o '"hbkeep_[a-z0-9_]*' "$src" | tr -d '"' | sort -u); do
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
# under the UMask of hbkeep-monitor.service: the textfile is still readable by node_exporter's
# user (hbctl sets its mode)
umask_unit=$(sed -n 's/^UMask=//p' "$HB_ROOT/units/hbkeep-monitor.service.in")
(umask "${umask_unit:-0077}" && exec "$HBCTL" monitor --cgroup "$MCG" -i 1s -d 4s --quiet --conns \
	--textfile "$HB_TMP/mon.prom") >"$HB_TMP/mon.out" 2>&1 &
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
	check_eq "live: the textfile is mode 644 under the unit's UMask=$umask_unit" 644 \
		"$(stat -c %a "$HB_TMP/mon.prom")"
	live_names=$(grep -v '^#' "$HB_TMP/mon.prom" | sed -E 's/[{ ].*//' | sort -u)
	check_eq "live: every metric of the dashboard is in the monitor's output" "" \
		"$(missing_in "$live_names" "${dash_metrics[@]}")"
	live_labels=$(grep -v '^#' "$HB_TMP/mon.prom" | grep -o '[{,][a-z_]*=' | tr -d '{,=' | sort -u)
	check_eq "live: every label of the dashboard is in the output, or a scrape label" "" \
		"$(missing_in "$live_labels"$'\n'"${SCRAPE_LABELS// /$'\n'}" "${dash_labels[@]}")"
	check "live: the keepalive=\"off\" series the panels filter on exists" \
		grep -q 'hbkeep_open_connections{.*keepalive="off"' "$HB_TMP/mon.prom"
	if command -v promtool >/dev/null; then
		check "live: promtool check metrics" eval 'promtool check metrics <"$HB_TMP/mon.prom" 2>&1 | { ! grep -qi error; }'
	fi
else
	not_ok "live: the monitor wrote no textfile"
fi
