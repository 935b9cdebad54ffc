#!/usr/bin/env bash
# check_observability_kit.sh: fails, naming the file and what is wrong, when the collector's
# observability kit does not hold (docs/operations.md, "Alert rules and a Grafana dashboard"):
#   packaging/prometheus/vigil-collector.rules.yml       `promtool check rules` passes; every
#                                                         alert has `for:`, labels.severity
#                                                         (critical or warning), a summary and
#                                                         a description naming a docs/ page;
#                                                         the shard count in
#                                                         VigilClusterShardsUnowned is
#                                                         kShardCount (collector/core/shards.h)
#   packaging/prometheus/vigil-collector.rules.test.yml  `promtool test rules` passes, and it
#                                                         has, for every alert, a case where it
#                                                         fires and one where it does not
#   packaging/grafana/vigil-collector.dashboard.json     valid JSON; `datasource` and
#                                                         `instance` variables; every panel on
#                                                         ${datasource} with a query; every
#                                                         expr parses (`promtool check rules`
#                                                         on them as recording rules)
# Every metric name in a rule's or a panel's expr, and every vigil_* or process_* name anywhere
# in the three files (annotation templates, variable queries, test series), must be a family
# the collector exports: the `.family("name", MetricType::kType` calls of collector/**/*.cc
# (with _bucket, _sum and _count for histograms), or `up`. So renaming or removing a metric
# fails this test until the kit follows.
# promtool (Debian package prometheus) and python3 with its yaml module are needed: without
# them the test is skipped (77), except under CI (VIGIL_CI or CI set), where it fails.
# Usage: check_observability_kit.sh REPO_ROOT
set -euo pipefail

root=${1:?usage: check_observability_kit.sh REPO_ROOT}
cd "$root"

rules=packaging/prometheus/vigil-collector.rules.yml
rule_tests=packaging/prometheus/vigil-collector.rules.test.yml
dashboard=packaging/grafana/vigil-collector.dashboard.json

# missing WHAT: skipped (77), or failed under CI.
missing() {
  if [ -n "${VIGIL_CI:-}${CI:-}" ]; then
    echo "observability_kit: FAILED: $1 missing under CI (scripts/install-deps.sh --test)" >&2
    exit 1
  fi
  echo "observability_kit: skipped: $1 missing (scripts/install-deps.sh --test)" >&2
  exit 77
}
command -v promtool >/dev/null || missing "promtool (Debian package prometheus)"
command -v python3 >/dev/null || missing python3
python3 -c 'import yaml' 2>/dev/null || missing "python3's yaml module (Debian package python3-yaml)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=()
# step WHAT COMMAND...: runs COMMAND; one line, ok or FAIL followed by its output, indented.
step() {
  local what=$1
  shift
  if "$@" >"$work/out" 2>&1; then
    echo "ok    $what"
  else
    echo "FAIL  $what:"
    sed 's/^/        /' "$work/out"
    failed+=("$what")
  fi
}

for f in "$rules" "$rule_tests" "$dashboard"; do
  [ -f "$f" ] || { echo "FAIL  $f: missing"; failed+=("$f (missing)"); }
done
if [ ${#failed[@]} -gt 0 ]; then
  exit 1
fi

step "$rules: promtool check rules" promtool check rules "$rules"
# promtool reads the test file's rule_files relative to the test file.
step "$rule_tests: promtool test rules" promtool test rules "$rule_tests"
step "$dashboard: valid JSON" python3 -m json.tool "$dashboard"

# The rest in one Python program: it prints ok/FAIL lines, writes the dashboard's exprs as
# recording rules to $work/dashboard.rules.json (JSON is YAML) and exits 1 on a failure.
kit_check() {
  python3 - "$rules" "$rule_tests" "$dashboard" "$work/dashboard.rules.json" <<'PY'
import glob
import json
import re
import sys

import yaml

rules_path, tests_path, dashboard_path, dashboard_rules_path = sys.argv[1:5]
failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


# --- The families the collector exports -----------------------------------------------------
family_call = re.compile(r'\.family\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"\s*,\s*MetricType::k(\w+)')
families = {}
for path in sorted(glob.glob("collector/**/*.cc", recursive=True)):
    text = open(path, encoding="utf-8").read()
    calls = len(re.findall(r"\.family\(", text))
    found = family_call.findall(text)
    # A call the pattern cannot read (the name not a literal, the type elsewhere) would leave a
    # family out and fail good names: say so instead.
    if calls:
        check(calls == len(found),
              f"{path}: {len(found)} of its {calls} .family( calls read as "
              "(\"name\", MetricType::k...)")
    for name, kind in found:
        families[name] = kind
check(len(families) >= 20, f"collector/**/*.cc: {len(families)} metric families found")
exported = {"up"}  # Prometheus' own, per scrape target
for name, kind in families.items():
    exported.add(name)
    if kind == "Histogram":
        exported.update(name + suffix for suffix in ("_bucket", "_sum", "_count"))


# --- Metric names in a PromQL expression ----------------------------------------------------
KEYWORDS = {"and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left",
            "group_right", "offset", "inf", "nan"}


def metric_names(expr):
    """The metric names an expression selects: identifiers that are not functions or
    aggregations (followed by "("), keywords, label names or values, or durations."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"#[^\n]*", " ", s)
    s = re.sub(r"\{[^}]*\}", " ", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)  # ranges and subqueries
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.:$])[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        if m.group(0).lower() in KEYWORDS or s[m.end():].lstrip().startswith("("):
            continue
        names.add(m.group(0))
    return names


def check_names(where, expr):
    names = metric_names(expr)
    unknown = sorted(names - exported)
    check(names and not unknown,
          f"{where}: metrics {', '.join(sorted(names)) or '(none found)'}"
          + (f" -- not exported by the collector: {', '.join(unknown)}" if unknown else ""))


# --- The alerting rules ---------------------------------------------------------------------
with open(rules_path, encoding="utf-8") as f:
    rule_groups = yaml.safe_load(f)["groups"]
alerts = {}
for group in rule_groups:
    for rule in group["rules"]:
        name = rule.get("alert") or rule.get("record")
        check_names(f"{rules_path}: {name}", rule["expr"])
        if "alert" not in rule:
            continue
        alerts[name] = rule
        labels = rule.get("labels") or {}
        notes = rule.get("annotations") or {}
        check("for" in rule and labels.get("severity") in ("critical", "warning")
              and notes.get("summary") and "docs/" in notes.get("description", ""),
              f"{rules_path}: {name} has for:, severity critical or warning, a summary and a "
              "description naming a docs/ page")
shard_count = re.search(r"kShardCount\s*=\s*(\d+)",
                        open("collector/core/shards.h", encoding="utf-8").read())
unowned = alerts.get("VigilClusterShardsUnowned", {})
check(shard_count is not None
      and re.search(r"<\s*" + shard_count.group(1) + r"\s*$", unowned.get("expr", "").strip())
      and shard_count.group(1) in unowned.get("annotations", {}).get("summary", ""),
      f"{rules_path}: VigilClusterShardsUnowned counts kShardCount "
      f"({shard_count.group(1) if shard_count else '?'}, collector/core/shards.h) shards")

# --- Every alert fires in a test, and is shown not firing in another ----------------------
with open(tests_path, encoding="utf-8") as f:
    unit_tests = yaml.safe_load(f)["tests"]
fires, quiet = set(), set()
for case in unit_tests:
    for test in case.get("alert_rule_test") or []:
        (fires if test.get("exp_alerts") else quiet).add(test["alertname"])
for name in sorted(alerts):
    check(name in fires and name in quiet,
          f"{tests_path}: {name} has a case where it fires and one where it does not")
check(not (fires | quiet) - set(alerts),
      f"{tests_path}: tests only alerts of the rules file "
      f"(unknown: {', '.join(sorted((fires | quiet) - set(alerts))) or 'none'})")

# --- The dashboard --------------------------------------------------------------------------
with open(dashboard_path, encoding="utf-8") as f:
    board = json.load(f)
variables = {v.get("name"): v for v in board.get("templating", {}).get("list", [])}
check(variables.get("datasource", {}).get("type") == "datasource"
      and variables["datasource"].get("query") == "prometheus"
      and variables.get("instance", {}).get("type") == "query",
      f"{dashboard_path}: a datasource variable (prometheus) and an instance variable")


def all_panels(panels):
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


recording = []
for panel in all_panels(board.get("panels", [])):
    if panel.get("type") == "row":
        continue
    title = f"{dashboard_path}: panel {panel.get('id')} \"{panel.get('title')}\""
    targets = panel.get("targets", [])
    check(panel.get("datasource", {}).get("uid") == "${datasource}" and targets
          and all(t.get("expr") for t in targets),
          f"{title} queries ${{datasource}}")
    for target in targets:
        expr = target.get("expr", "")
        check_names(f"{title} {target.get('refId')}", expr)
        # Grafana's variables, made PromQL: intervals a duration, the others a label value.
        promql = re.sub(r"\$(?:__rate_interval|__interval|__range)\b|\$\{(?:__rate_interval|"
                        r"__interval|__range)\}", "5m", expr)
        promql = re.sub(r"\$\{\w+\}|\$\w+", "x", promql)
        recording.append({"record": f"vigil_dashboard:panel{panel.get('id')}_"
                                    f"{target.get('refId', 'A')}", "expr": promql})
check(len(recording) >= 10, f"{dashboard_path}: {len(recording)} panel queries found")
with open(dashboard_rules_path, "w", encoding="utf-8") as f:
    json.dump({"groups": [{"name": "dashboard", "rules": recording}]}, f, indent=1)

# --- Every vigil_* and process_* name anywhere in the kit -----------------------------------
for path in (rules_path, tests_path, dashboard_path):
    text = open(path, encoding="utf-8").read()
    named = set(re.findall(r"\b(?:vigil|process)_[a-z0-9_]*[a-z0-9]\b", text))
    unknown = sorted(named - exported)
    check(not unknown, f"{path}: every vigil_* and process_* name is exported"
          + (f" -- not: {', '.join(unknown)}" if unknown else ""))

sys.exit(1 if failures else 0)
PY
}
if kit_check; then
  echo "ok    metric names, alert fields and tests, dashboard panels"
else
  failed+=("metric names, alert fields and tests, dashboard panels (FAIL lines above)")
fi
if [ -f "$work/dashboard.rules.json" ]; then
  step "$dashboard: every expr parses (promtool check rules)" \
    promtool check rules "$work/dashboard.rules.json"
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "observability_kit: failed:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "observability_kit: the rules, their tests and the dashboard hold"
