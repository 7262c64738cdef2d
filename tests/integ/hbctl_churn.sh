#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl ls while another process opens and closes tens of thousands of connections per
# second for ~10 s (ka_hold churn, loopback of a private namespace), both back ends in turn:
# hbctl never crashes, every JSON output parses and every record and table row is well-formed.
# Then hbctl set on connections that keep closing (conn_flicker.py), both back ends: a socket
# closed between listing and setting is reported as closed meanwhile, never as a failure.
. "$(dirname "$0")/_lib.sh"
need_root
need_cmd python3 nsenter
HBCTL=$O/hbctl
KA=$HELPERS/ka_hold
need_built "$HBCTL" "$KA"
unset HB_BACKEND HB_DIAG_FILE

ns=$(netns_new churn) || { echo "Bail out! ip netns add failed"; exit 1; }
secs=${HB_CHURN_SECS:-10}
# some steady sockets with owners and settings, so that -p and the config path run too
nsenter --net="/run/netns/$ns" "$KA" listen 127.0.0.1 9001 >"$HB_TMP/srv" 2>/dev/null & bg_pid $!
for _ in $(seq 100); do grep -q ready "$HB_TMP/srv" && break; sleep 0.05; done
nsenter --net="/run/netns/$ns" "$KA" -n 20 -k 1 -i 30 connect 127.0.0.1 9001 >"$HB_TMP/cl" 2>/dev/null & bg_pid $!
nsenter --net="/run/netns/$ns" "$KA" churn 127.0.0.1 9000 "$secs" >"$HB_TMP/churn" 2>"$HB_TMP/churn.err" &
churn=$!; bg_pid $churn
for _ in $(seq 100); do grep -q ready "$HB_TMP/churn" && break; sleep 0.05; done

mkdir -p "$HB_TMP/out"
runs=0 crashes=0 fails=0 bpf_runs=0
# both back ends take turns when the BPF one can run (root, BTF): the iterators' batches and
# the owner walk on a second thread meet the same churn
backends=(diag)
if [ -r /sys/kernel/btf/vmlinux ] && HB_BACKEND= "$HBCTL" --backend bpf ls --state listen \
	>/dev/null 2>&1; then
	backends=(diag bpf)
fi
end=$((SECONDS + secs))
while [ $SECONDS -lt $end ] && kill -0 $churn 2>/dev/null; do
	runs=$((runs + 1))
	case $((runs % 3)) in
	0) args=(ls -j -p) ;;
	1) args=(ls -p --nat-timeout 60) ;;
	2) args=(ls -j --state established,time-wait --nat-timeout 350) ;;
	esac
	be=${backends[$((runs / 3 % ${#backends[@]}))]}
	[ "$be" = bpf ] && bpf_runs=$((bpf_runs + 1))
	in_ns "$ns" "$HBCTL" --backend "$be" "${args[@]}" >"$HB_TMP/out/$runs.$((runs % 3))" 2>"$HB_TMP/out/$runs.err"
	rc=$?
	if [ $rc -ge 128 ]; then crashes=$((crashes + 1)); diag "run $runs: ${args[*]}: killed by signal $((rc - 128))"
	elif [ $rc -ne 0 ]; then fails=$((fails + 1)); diag "run $runs: ${args[*]}: exit $rc: $(head -c 300 "$HB_TMP/out/$runs.err")"
	fi
done
wait $churn
churned=$(sed -n 's/^churned //p' "$HB_TMP/churn")
diag "$runs hbctl runs ($bpf_runs with the bpf back end) while $churned connections were opened and closed"
check "the churn ran (more than 1000 connections per second)" test "${churned:-0}" -gt $((secs * 1000))
check "hbctl ran repeatedly during the churn ($runs runs)" test "$runs" -ge 5
if [ ${#backends[@]} -gt 1 ]; then
	check "the bpf back end ran too ($bpf_runs runs)" test "$bpf_runs" -ge 2
else
	skip "the bpf back end: needs root and BTF"
fi
check_eq "no crash" 0 "$crashes"
check_eq "every run exited 0" 0 "$fails"

# ---- set while connections close (issue 13 item 13) -----------------------------------------
# Before: "Invalid argument" (a socket gone to time-wait), "No such file or directory" or "no
# owning process found" for a socket closed meanwhile, exit 1 in most runs.
nsenter --net="/run/netns/$ns" python3 "$HB_ROOT/tests/helpers/conn_flicker.py" 127.0.0.1 9100 50 \
	60 >"$HB_TMP/flicker" 2>&1 & flicker=$!; bg_pid $flicker
for _ in $(seq 100); do grep -q ready "$HB_TMP/flicker" && break; sleep 0.1; done
set_runs=0 set_fails=0 set_closed=0 set_bad=0
for ((i = 0; i < 12; i++)); do
	be=${backends[$((i % ${#backends[@]}))]}
	in_ns "$ns" "$HBCTL" --backend "$be" set --port 9100 --idle 30 >"$HB_TMP/set.out" 2>"$HB_TMP/set.err"
	rc=$?
	set_runs=$((set_runs + 1))
	if [ $rc -ne 0 ]; then
		set_fails=$((set_fails + 1))
		diag "set run $i ($be): exit $rc: $(head -c 300 "$HB_TMP/set.err")"
	fi
	# the summary counts what the per-socket lines say
	n=$(sed -n 's/^changed [0-9]* of [0-9]* sockets* (\([0-9]*\) closed meanwhile)$/\1/p' "$HB_TMP/set.out")
	if [ "${n:-0}" != "$(grep -c ': closed meanwhile (not changed)$' "$HB_TMP/set.err")" ] ||
		grep -v ': closed meanwhile (not changed)$' "$HB_TMP/set.err" | grep -q .; then
		set_bad=$((set_bad + 1))
		diag "set run $i ($be): $(head -c 300 "$HB_TMP/set.out" "$HB_TMP/set.err")"
	fi
	[ "${n:-0}" -gt 0 ] && set_closed=$((set_closed + 1))
done
kill $flicker 2>/dev/null
diag "$set_runs set runs on flickering connections, $set_closed with sockets closed meanwhile"
check "set: connections closed between listing and setting in some runs ($set_closed)" \
	test "$set_closed" -ge 1
check_eq "set: a socket closed meanwhile is no failure: every run exited 0" 0 "$set_fails"
check_eq "set: each run said only 'closed meanwhile', as many as its summary counts" 0 "$set_bad"

cat >"$HB_TMP/validate.py" <<'PY'
import glob, json, re, sys
STATES = {"established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2", "time-wait",
          "closed", "close-wait", "last-ack", "listen", "closing"}
ADDR = re.compile(r"^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:.]+\]):\d+$")
ROW_ADDR = re.compile(r"^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:.]+\]):(\d+|\*)$")
INT_OR_NULL = ("keepidle_s", "keepintvl_s", "keepcnt", "user_timeout_ms", "last_send_ms",
               "last_recv_ms", "last_ack_ms", "idle_ms")
bad = []
def rec_ok(s, owners, nat):
    if s["state"] not in STATES or not ADDR.match(s["local"]) or not ADDR.match(s["peer"]):
        return False
    if not isinstance(s["inode"], int) or s["keepalive"] not in (True, False, None):
        return False
    if any(not (s[k] is None or (isinstance(s[k], int) and s[k] >= 0)) for k in INT_OR_NULL):
        return False
    if set(s["config_source"]) != {"keepidle", "keepintvl", "keepcnt", "user_timeout"}:
        return False
    t = s["timer"]
    if t is not None and (t["kind"] not in ("keepalive", "retransmit", "probe", "timewait", "other")
                          or t["expires_ms"] < 0 or t["probes"] < 0):
        return False
    if owners and not ("pid" in s and "comm" in s and "fd" in s and isinstance(s["owners"], list)):
        return False
    if nat and s["at_risk"] not in (True, False, None):
        return False
    return True
n_json = n_rows = n_recs = 0
for f in sorted(glob.glob(sys.argv[1] + "/*.[0-2]")):
    kind = f[-1]
    text = open(f, encoding="utf-8").read()
    if kind in "02":
        n_json += 1
        try:
            d = json.loads(text)
        except ValueError as e:
            bad.append("%s: JSON: %s" % (f, e)); continue
        for s in d:
            n_recs += 1
            if not rec_ok(s, kind == "0", kind == "2"):
                bad.append("%s: record %r" % (f, s)); break
    else:
        lines = text.splitlines()
        if not lines or lines[0].split()[:3] != ["STATE", "LOCAL", "PEER"]:
            bad.append("%s: header" % f); continue
        for line in lines[1:]:
            if not line:
                break                       # the --nat-timeout summary follows
            c = line.split()
            n_rows += 1
            if len(c) < 14 or c[0] not in STATES or not ROW_ADDR.match(c[1]) or not ROW_ADDR.match(c[2]):
                bad.append("%s: row %r" % (f, line)); break
        if not re.match(r"^\d+ of \d+ connections? at risk for a 60 s NAT timeout", lines[-1]):
            bad.append("%s: summary %r" % (f, lines[-1]))
print("json=%d records=%d rows=%d" % (n_json, n_recs, n_rows))
for b in bad[:5]:
    print("BAD " + b[:400])
sys.exit(1 if bad else 0)
PY
res=$(python3 "$HB_TMP/validate.py" "$HB_TMP/out")
rc=$?
diag "$res"
check_eq "every JSON output parses, every record and row is well-formed" 0 $rc
check "JSON outputs were checked" grep -q "json=[1-9]" <<<"$res"
check "table rows were checked" grep -q "rows=[1-9]" <<<"$res"
