#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The Prometheus alerting rules shipped in deploy/prometheus (issue 13, item 15):
# promtool check rules, promtool test rules (each alert fires on the series that should raise
# it and stays silent beside them), every alert of the file has a test, and every metric
# they name is one the exporter emits (cli/prom.c), under the hbkeep_ prefix.
. "$(dirname "$0")/_lib.sh"
need_cmd promtool python3
D=$HB_ROOT/deploy/prometheus
RULES=$D/hbkeep.rules.yml
TESTS=$D/hbkeep.rules.test.yml

check "promtool check rules" sh -c "promtool check rules '$RULES' >'$HB_TMP/check' 2>&1"
[ $_tap_fail -eq 0 ] || diag "$(cat "$HB_TMP/check")"
# promtool resolves rule_files relative to the test file
check "promtool test rules" sh -c "promtool test rules '$TESTS' >'$HB_TMP/test' 2>&1"
[ $_tap_fail -eq 0 ] || diag "$(head -n 30 "$HB_TMP/test")"

python3 - "$RULES" "$TESTS" >"$HB_TMP/names" <<'PY'
import re, sys, yaml
rules = yaml.safe_load(open(sys.argv[1]))
tests = yaml.safe_load(open(sys.argv[2]))
alerts = [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
tested = {a["alertname"] for t in tests["tests"] for a in t.get("alert_rule_test", [])
          if a.get("exp_alerts")}
print("untested", " ".join(sorted(set(alerts) - tested)))
print("alerts", " ".join(alerts))
exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
print("metrics", " ".join(sorted({m for e in exprs for m in re.findall(r"\b[a-z_]+_[a-z_]+\b(?=[{\[ )]|$)", e)
                                  if m.startswith(("hb_", "hbkeep_"))})))
PY
g() { sed -n "s/^$1 //p" "$HB_TMP/names"; }
check_eq "three alerts: NAT risk, unanswered probes, keepalive-timeout closes" \
	"HbkeepConnectionsAtNatRisk HbkeepKeepaliveProbesUnanswered HbkeepKeepaliveTimeoutCloses" "$(g alerts)"
check_eq "every alert has a test in which it fires" "" "$(g untested)"
src=$(grep -o '"hbkeep_[a-z0-9_]*' "$HB_ROOT/cli/prom.c" | tr -d '"' | sort -u)
missing=
for m in $(g metrics); do grep -qx "$m" <<<"$src" || missing="$missing $m"; done
diag "metrics the rules use: $(g metrics)"
check "the rules name metrics" test -n "$(g metrics)"
check_eq "every metric the rules use is one the exporter emits (hbkeep_)" "" "${missing# }"
