"""List (or check against a live Prometheus) every PromQL expr of the dashboards.

Grafana expands macros and template variables before a query reaches
Prometheus; this does the same with fixed values that Prometheus accepts, so
that each expr can be parsed by the real thing:

  $__rate_interval, $__interval   -> 1m      ($__*_ms -> 60000)
  $__range                        -> 1h      ($__range_s -> 3600, $__range_ms -> 3600000)
  $var, ${var}, ${var:fmt}, [[var]]
      inside a regex matcher (=~ or !~) -> .*
      elsewhere -> the variable's first sensible value (current, first
      option, first of a custom list, allValue)

Besides the panels' targets, the exprs inside query variables
(label_values(expr, label), query_result(expr)) are listed too.

Usage:
  python roles/monitoring/dashboards-src/dashboard_exprs.py [--dashboards DIR] [DASHBOARD.json ...]
      print a JSON list of {dashboard, panel, refId, expr, raw}
  python roles/monitoring/dashboards-src/dashboard_exprs.py --check http://127.0.0.1:9090[/prefix] [--dashboards DIR] [DASHBOARD.json ...]
      POST each expr to <URL>/api/v1/query; exit 1 listing every expr that
      Prometheus rejects (no data is fine: only errors fail); exit 2 when
      Prometheus cannot be reached or a dashboard cannot be read

  python roles/monitoring/dashboards-src/dashboard_exprs.py --check URL --metrics [--allow-missing NAME ...] ...
      also read <URL>/api/v1/label/__name__/values and exit 1 listing every
      metric name a dashboard expr uses that this Prometheus does not have
      (a misspelled metric parses, and then shows "No data" forever). NAME
      (repeatable) is a metric the caller knows this Prometheus cannot have;
      it fails as well when no dashboard uses it or Prometheus has it (the
      list stays true)

Without files or directories: every dashboard of the monitoring role
(roles/monitoring/files/grafana/dashboards). Standard library only (Python
3.8 or later), so that it runs as a single copied file on a test host.
"""

import argparse
import glob
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

ROLE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DASHBOARD_DIR = os.path.join(ROLE_DIR, "files", "grafana", "dashboards")

MACROS = {
    "__rate_interval": "1m",
    "__rate_interval_ms": "60000",
    "__interval": "1m",
    "__interval_ms": "60000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
ANY = ".*"
# $name, ${name}, ${name:format}, [[name]], [[name:format]]
VAR_RE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")
# The value of a regex matcher: =~ or !~ and a quoted string.
REGEX_MATCHER_RE = re.compile(r"""(=~|!~)(\s*)("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)""")
# Grafana's Prometheus variable queries.
LABEL_VALUES_RE = re.compile(r"^\s*label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_]\w*)\s*\)\s*$", re.S)
QUERY_RESULT_RE = re.compile(r"^\s*query_result\((.+)\)\s*$", re.S)
LABEL_NAMES_RE = re.compile(r"^\s*label_names\(\s*(.*?)\s*\)\s*$", re.S)
METRICS_RE = re.compile(r"^\s*metrics\((.*)\)\s*$", re.S)


# PromQL words that are not metric names where an identifier may stand.
KEYWORDS = frozenset((
    "and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left", "group_right", "offset",
    "atan2", "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "limitk", "limit_ratio", "inf", "nan", "start", "end",
))
# Keywords followed by a parenthesised list of label names.
LABEL_LIST_KEYWORDS = frozenset(("by", "without", "on", "ignoring", "group_left", "group_right"))
TOKEN_RE = re.compile(r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<number>0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?(?:[a-zA-Z]+[0-9]*)*)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<comment>\#[^\n]*)
  | (?P<space>\s+)
  | (?P<punct>.)
""", re.X)


def metric_names(expr):
    """The metric names a (substituted) PromQL expr selects, sorted.

    An identifier is a metric name unless it is a keyword, a function or an
    aggregation (followed by "("), a label name (inside {...}, or in the
    list after by/without/on/ignoring/group_left/group_right), or in a
    string. {__name__="x"} selects x too; a __name__ regex is not a name."""
    tokens = [(m.lastgroup, m.group()) for m in TOKEN_RE.finditer(expr) if m.lastgroup not in ("space", "comment")]
    names = set()
    braces = 0
    label_list = False
    for index, (kind, text) in enumerate(tokens):
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        if kind == "punct":
            if text == "{":
                braces += 1
            elif text == "}":
                braces -= 1
            elif text == ")" and label_list:
                label_list = False
            continue
        if kind == "string" and braces and index >= 2 and tokens[index - 2][1] == "__name__" \
                and tokens[index - 1][1] == "=":
            names.add(text[1:-1])
            continue
        if kind != "ident" or braces or label_list:
            continue
        if text in LABEL_LIST_KEYWORDS and following == "(":
            label_list = True
            continue
        if text in KEYWORDS or following == "(":
            continue
        names.add(text)
    return sorted(names)


def fetch_metric_names(url, timeout=10.0):
    """Every metric name Prometheus has (/api/v1/label/__name__/values)."""
    endpoint = url.rstrip("/") + "/api/v1/label/__name__/values"
    with urllib.request.urlopen(endpoint, timeout=timeout) as response:  # nosec: the URL is the caller's
        reply = json.loads(response.read())
    if reply.get("status") != "success":
        raise ValueError("%s: %s" % (endpoint, reply.get("error", reply)))
    return set(reply["data"])


def check_metrics(items, known, allowed=()):
    """Problems (strings) of the dashboards' metric names against the ones
    Prometheus knows; allowed: names it cannot have (each must be used and absent)."""
    used = {}
    for item in items:
        for name in metric_names(item["expr"]):
            used.setdefault(name, []).append("%s / %s %s" % (item["dashboard"], item["panel"], item["refId"]))
    problems = []
    for name in sorted(used):
        if name not in known and name not in allowed:
            problems.append("unknown metric %s (not in Prometheus), used by: %s" % (name, "; ".join(used[name])))
    for name in sorted(set(allowed)):
        if name not in used:
            problems.append("allowed-missing metric %s is used by no dashboard: remove it from the list" % name)
        elif name in known:
            problems.append("allowed-missing metric %s is in Prometheus after all: remove it from the list" % name)
    return problems, used


class ExprError(ValueError):
    """An expr that cannot be made concrete (unknown variable or macro)."""


def _name(match):
    return match.group(1) or match.group(2) or match.group(3)


def first_value(var):
    """The value a variable stands for outside a regex matcher."""
    current = (var.get("current") or {}).get("value")
    if isinstance(current, list):
        current = current[0] if current else None
    if current and current != "$__all":
        return current
    for option in var.get("options") or []:
        value = option.get("value")
        if value and value != "$__all":
            return value
    query = var.get("query")
    if var.get("type") in ("custom", "interval") and isinstance(query, str) and query.strip():
        return query.split(",")[0].strip()
    if var.get("type") in ("constant", "textbox") and isinstance(query, str):
        return query
    if var.get("allValue"):
        return var["allValue"]
    raise ExprError("variable $%s has no value to stand for it outside a regex matcher" % var.get("name"))


def substitute(expr, variables):
    """expr with Grafana's macros and template variables replaced (see the module doc)."""
    def macro_or_var(match, in_regex):
        name = _name(match)
        if name.isdigit():
            return match.group(0)  # $1 of label_replace(), not a variable
        if name.startswith("__"):
            if name not in MACROS:
                raise ExprError("unknown Grafana macro $%s" % name)
            return MACROS[name]
        if name not in variables:
            raise ExprError("undefined template variable $%s" % name)
        return ANY if in_regex else first_value(variables[name])

    def regex_matcher(match):
        value = VAR_RE.sub(lambda m: macro_or_var(m, True), match.group(3))
        return match.group(1) + match.group(2) + value

    expr = REGEX_MATCHER_RE.sub(regex_matcher, expr)
    return VAR_RE.sub(lambda m: macro_or_var(m, False), expr)


def iter_panels(panels):
    """Every panel, the ones inside collapsed rows too."""
    for panel in panels or []:
        yield panel
        yield from iter_panels(panel.get("panels"))


def _datasource_type(target, panel):
    source = target.get("datasource") or panel.get("datasource") or {}
    return source.get("type") if isinstance(source, dict) else None


def variable_query(var):
    """The query string of a query variable (str or Grafana's object form)."""
    query = var.get("query")
    if isinstance(query, dict):
        query = query.get("query")
    return query or var.get("definition") or ""


def variable_expr(query):
    """The PromQL inside a Prometheus variable query, or None when it has none.

    Raises ExprError when the query is none of Grafana's forms."""
    for pattern, group in ((LABEL_VALUES_RE, 1), (QUERY_RESULT_RE, 1), (LABEL_NAMES_RE, 1)):
        match = pattern.match(query)
        if match:
            return match.group(group) or None
    if METRICS_RE.match(query):
        return None
    raise ExprError("not a Grafana Prometheus variable query: %r" % query)


def extract_dashboard(dashboard):
    """[{dashboard, panel, refId, expr, raw}] of one dashboard's Prometheus queries."""
    uid = dashboard.get("uid")
    variables = {var.get("name"): var for var in (dashboard.get("templating") or {}).get("list", [])}
    out = []
    for var in variables.values():
        source = var.get("datasource") or {}
        if var.get("type") != "query" or not isinstance(source, dict) or source.get("type") != "prometheus":
            continue
        raw = variable_expr(variable_query(var))
        if raw:
            out.append({"dashboard": uid, "panel": "variable $%s" % var["name"], "refId": "",
                        "expr": substitute(raw, variables), "raw": raw})
    for panel in iter_panels(dashboard.get("panels")):
        for target in panel.get("targets") or []:
            if _datasource_type(target, panel) != "prometheus" or target.get("hide"):
                continue
            raw = target.get("expr", "")
            out.append({"dashboard": uid, "panel": panel.get("title", ""), "refId": target.get("refId", ""),
                        "expr": substitute(raw, variables), "raw": raw})
    return out


def extract(paths):
    out = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            dashboard = json.load(handle)
        try:
            out.extend(extract_dashboard(dashboard))
        except ExprError as exc:
            raise ExprError("%s: %s" % (os.path.basename(path), exc)) from exc
    return out


def query(url, expr, timeout=10.0):
    """(ok, message) of an instant query; ok is False when Prometheus reports an error."""
    endpoint = url.rstrip("/") + "/api/v1/query"
    data = urllib.parse.urlencode({"query": expr}).encode()
    request = urllib.request.Request(endpoint, data=data, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec: the URL is the caller's
            body = response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            reply = json.loads(body)
        except ValueError:
            return False, "HTTP %s: %s" % (exc.code, body[:200].decode("utf-8", "replace"))
        return False, "%s: %s" % (reply.get("errorType", "HTTP %s" % exc.code), reply.get("error", ""))
    reply = json.loads(body)
    if reply.get("status") != "success":
        return False, "%s: %s" % (reply.get("errorType", "error"), reply.get("error", ""))
    notes = list(reply.get("warnings") or []) + list(reply.get("infos") or [])
    return True, "; ".join(notes)


def check(url, items, timeout=10.0, out=sys.stdout):
    """Send every item's expr to Prometheus; return the failing items (with their error)."""
    failing = []
    for item in items:
        ok, message = query(url, item["expr"], timeout)
        if not ok:
            failing.append(dict(item, error=message))
        elif message:
            print("note: %s / %s: %s" % (item["dashboard"], item["panel"], message), file=out)
    return failing


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--check", metavar="URL", help="Prometheus base URL (with its route prefix, if any)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per query (default 10)")
    parser.add_argument("--dashboards", metavar="DIR", action="append", default=[],
                        help="a directory of dashboard JSON files (repeatable)")
    parser.add_argument("--metrics", action="store_true",
                        help="with --check: every metric name used must be in Prometheus (or --allow-missing)")
    parser.add_argument("--allow-missing", metavar="NAME", action="append", default=[],
                        help="a metric this Prometheus cannot have (repeatable; with --metrics)")
    parser.add_argument("files", nargs="*", help="dashboard JSON files")
    args = parser.parse_args(argv)
    paths = list(args.files)
    for directory in args.dashboards:
        found = sorted(glob.glob(os.path.join(directory, "*.json")))
        if not found:
            print("error: no *.json in %s" % directory, file=sys.stderr)
            return 2
        paths.extend(found)
    paths = paths or sorted(glob.glob(os.path.join(DASHBOARD_DIR, "*.json")))
    try:
        items = extract(paths)
    except (ExprError, ValueError, OSError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    if not args.check:
        json.dump(items, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    try:
        failing = check(args.check, items, args.timeout)
        known = fetch_metric_names(args.check, args.timeout) if args.metrics else None
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        print("error: cannot query Prometheus at %s: %s" % (args.check, exc), file=sys.stderr)
        return 2
    for item in failing:
        print("FAIL %(dashboard)s / %(panel)s %(refId)s: %(error)s\n     %(expr)s" % item)
    print("%d of %d exprs of %d dashboards parsed by %s"
          % (len(items) - len(failing), len(items), len(paths), args.check))
    problems = []
    if known is not None:
        problems, used = check_metrics(items, known, args.allow_missing)
        for problem in problems:
            print("FAIL %s" % problem)
        print("%d of %d metric names in Prometheus (%d allowed missing: %s)"
              % (len([n for n in used if n in known]), len(used), len(set(args.allow_missing)),
                 ", ".join(sorted(set(args.allow_missing))) or "none"))
    return 1 if failing or problems else 0


if __name__ == "__main__":
    sys.exit(main())
