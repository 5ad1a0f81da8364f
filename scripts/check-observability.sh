#!/usr/bin/env bash
# Offline checks of the monitoring files: Prometheus config and alert rules are valid, every
# alert's unit tests pass (a series that fires it and one that does not), and every query of
# the Grafana dashboard is valid PromQL (checked by promtool as recording rules).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root/deploy/prometheus"
promtool check config prometheus.yml
promtool test rules alerts.test.yml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$root/deploy/grafana/dashboards/newsflow.json" >"$work/dashboard-rules.yml" <<'PY'
import json, sys
dashboard = json.load(open(sys.argv[1]))
exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
assert exprs, "the dashboard has no queries"
print("groups:\n  - name: dashboard\n    rules:")
for i, expr in enumerate(exprs):
    print(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(expr)}")
PY
promtool check rules "$work/dashboard-rules.yml"
