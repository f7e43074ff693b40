"""Write the Grafana dashboards of the monitoring role from one description.

The dashboards are plain Grafana JSON (schemaVersion 39, Grafana 11 and
later) under roles/monitoring/files/grafana/dashboards/, where Grafana's
file provider reads them. This script is their source: change a panel here,
run it, and commit both. Every datasource is referenced by uid only
(`prometheus`, `loki`), as provisioned by
roles/monitoring/templates/grafana/provisioning/datasources/prodkit.yml.j2.

Usage: python tools/gen_dashboards.py [--check]
--check writes nothing and exits 1 when a dashboard file is out of date (a
unit test runs it so).
"""

import argparse
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "roles", "monitoring", "files", "grafana", "dashboards")
SCHEMA_VERSION = 39
PROM = {"type": "prometheus", "uid": "prometheus"}
LOKI = {"type": "loki", "uid": "loki"}
TAGS = ["prodkit"]

# Filesystems worth watching (not the container runtime's or the kernel's).
FS = 'fstype!~"tmpfs|devtmpfs|overlay|squashfs|ramfs|nsfs|autofs|fuse.lxcfs"'
INST = 'instance=~"$instance"'
NODE_FS = "{%s,%s}" % (INST, FS)
# Physical network interfaces, not Docker's bridges and veth pairs.
NET = 'device!~"lo|veth.*|br-.*|docker.*"'
DISK = 'device!~"loop.*|ram.*|sr.*"'
DJANGO = "django_http_responses_total_by_status_total"
DJANGO_LATENCY = "django_http_requests_latency_seconds_by_view_method_bucket"
CELERY_QUEUE = 'redis_key_size{key="celery"}'

DAY = 86400


# --- field configuration helpers ------------------------------------------------

def steps(*pairs):
    """Threshold steps, from the base colour up: steps("green", 0.8, "orange")."""
    out = [{"color": pairs[0], "value": None}]
    for value, color in zip(pairs[1::2], pairs[2::2]):
        out.append({"color": color, "value": value})
    return {"mode": "absolute", "steps": out}


GREEN = steps("green")
BLUE = steps("blue")


def value_map(mapping):
    """Value mappings {raw value: (text, colour)}."""
    options = {}
    for index, (raw, (text, color)) in enumerate(mapping.items()):
        options[str(raw)] = {"color": color, "index": index, "text": text}
    return [{"type": "value", "options": options}]


UP_DOWN = value_map({0: ("DOWN", "red"), 1: ("UP", "green")})
OK_FAILED = value_map({0: ("FAILED", "red"), 1: ("OK", "green")})
RUNNING = value_map({0: ("stopped", "red"), 1: ("running", "green")})
HEALTH = value_map({
    "healthy": ("healthy", "green"),
    "unhealthy": ("unhealthy", "red"),
    "starting": ("starting", "yellow"),
    "none": ("no healthcheck", "text"),
})


def override(name, **props):
    """An override of the series or field called `name` (a regex if it starts with /)."""
    matcher = {"id": "byRegexp", "options": name[1:-1]} if name.startswith("/") else {"id": "byName", "options": name}
    properties = []
    for key, value in props.items():
        properties.append({"id": key.replace("__", "."), "value": value})
    return {"matcher": matcher, "properties": properties}


DASHED = {"dash": [10, 10], "fill": "dash"}


def target(expr, legend="", instant=False, table=False):
    out = {"datasource": PROM, "editorMode": "code", "expr": expr, "legendFormat": legend or "__auto",
           "range": not instant, "instant": instant}
    if table:
        out["format"] = "table"
    return out


def _as_target(item, instant=False, table=False):
    """A target from an expr, an (expr[, legend]) tuple or a target dict."""
    if isinstance(item, dict):
        return dict(item, instant=instant, range=not instant) if instant else item
    if isinstance(item, str):
        item = (item,)
    return target(item[0], item[1] if len(item) > 1 else "", instant=instant, table=table)


def _targets(targets):
    """Targets with refIds A, B, ..."""
    return [dict(_as_target(item), refId=chr(ord("A") + index)) for index, item in enumerate(targets)]


def _instant(targets):
    return [_as_target(item, instant=True) for item in targets]


def _panel(kind, title, description, targets, defaults, options, overrides=(), **extra):
    panel = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": PROM,
        "fieldConfig": {"defaults": defaults, "overrides": list(overrides)},
        "options": options,
        "targets": _targets(targets),
    }
    panel.update(extra)
    return panel


def _defaults(unit, thresholds=None, mappings=(), decimals=None, minimum=None, maximum=None, color=None, custom=None):
    out = {"unit": unit, "thresholds": thresholds or GREEN, "mappings": list(mappings),
           "color": color or {"mode": "thresholds"}}
    if decimals is not None:
        out["decimals"] = decimals
    if minimum is not None:
        out["min"] = minimum
    if maximum is not None:
        out["max"] = maximum
    if custom is not None:
        out["custom"] = custom
    return out


REDUCE_LAST = {"calcs": ["lastNotNull"], "fields": "", "values": False}


# --- panels ---------------------------------------------------------------------

def timeseries(title, description, targets, unit, thresholds=None, minimum=None, maximum=None, stack=False,
               bars=False, overrides=(), decimals=None, threshold_lines=False, calcs=("mean", "max", "lastNotNull")):
    custom = {
        "axisBorderShow": False,
        "axisCenteredZero": False,
        "axisColorMode": "text",
        "axisLabel": "",
        "axisPlacement": "auto",
        "barAlignment": 0,
        "drawStyle": "bars" if bars else "line",
        "fillOpacity": 80 if bars else (25 if stack else 10),
        "gradientMode": "none",
        "hideFrom": {"legend": False, "tooltip": False, "viz": False},
        "insertNulls": False,
        "lineInterpolation": "linear",
        "lineWidth": 1,
        "pointSize": 4,
        "scaleDistribution": {"type": "linear"},
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"group": "A", "mode": "normal" if stack else "none"},
        "thresholdsStyle": {"mode": "dashed" if threshold_lines else "off"},
    }
    defaults = _defaults(unit, thresholds, decimals=decimals, minimum=minimum, maximum=maximum,
                         color={"mode": "palette-classic"}, custom=custom)
    options = {
        "legend": {"calcs": list(calcs), "displayMode": "table", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return _panel("timeseries", title, description, targets, defaults, options, overrides)


def stat(title, description, targets, unit, thresholds=None, mappings=(), decimals=None, graph=False,
         color_mode="background", text_mode="auto"):
    defaults = _defaults(unit, thresholds, mappings, decimals)
    options = {
        "colorMode": color_mode,
        "graphMode": "area" if graph else "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "reduceOptions": REDUCE_LAST,
        "showPercentChange": False,
        "textMode": text_mode,
        "wideLayout": True,
    }
    return _panel("stat", title, description, targets if graph else _instant(targets), defaults, options)


def gauge(title, description, targets, unit, thresholds, minimum=0, maximum=1, decimals=None):
    defaults = _defaults(unit, thresholds, decimals=decimals, minimum=minimum, maximum=maximum)
    options = {
        "minVizHeight": 75,
        "minVizWidth": 75,
        "orientation": "auto",
        "reduceOptions": REDUCE_LAST,
        "showThresholdLabels": False,
        "showThresholdMarkers": True,
        "sizing": "auto",
    }
    return _panel("gauge", title, description, _instant(targets), defaults, options)


def bargauge(title, description, targets, unit, thresholds, minimum=0, maximum=None, decimals=None):
    defaults = _defaults(unit, thresholds, decimals=decimals, minimum=minimum, maximum=maximum)
    options = {
        "displayMode": "gradient",
        "maxVizHeight": 300,
        "minVizHeight": 16,
        "minVizWidth": 8,
        "namePlacement": "auto",
        "orientation": "horizontal",
        "reduceOptions": REDUCE_LAST,
        "showUnfilled": True,
        "sizing": "auto",
        "valueMode": "color",
    }
    return _panel("bargauge", title, description, _instant(targets), defaults, options)


def table(title, description, targets, unit="none", thresholds=None, overrides=(), transformations=(),
          sort_by=None, mappings=()):
    custom = {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": False, "inspect": False}
    defaults = _defaults(unit, thresholds, mappings, custom=custom)
    options = {
        "cellHeight": "sm",
        "footer": {"countRows": False, "fields": "", "reducer": ["sum"], "show": False},
        "showHeader": True,
        "sortBy": [{"desc": desc, "displayName": name} for name, desc in (sort_by or [])],
    }
    tabled = [_as_target(item, instant=True, table=True) for item in targets]
    return _panel("table", title, description, tabled, defaults, options, overrides,
                  transformations=list(transformations))


def logs(title, description, expr):
    return {
        "type": "logs",
        "title": title,
        "description": description,
        "datasource": LOKI,
        "options": {
            "dedupStrategy": "none",
            "enableLogDetails": True,
            "prettifyLogMessage": False,
            "showCommonLabels": False,
            "showLabels": False,
            "showTime": True,
            "sortOrder": "Descending",
            "wrapLogMessage": True,
        },
        "targets": [{"datasource": LOKI, "editorMode": "code", "expr": expr, "queryType": "range", "refId": "A"}],
    }


def cell(kind, **extra):
    """A table cell display (color-background, color-text, ...)."""
    return dict({"type": kind}, **extra)


def merge_and_organize(rename, exclude=("Time", "job", "__name__"), order=None):
    organize = {"excludeByName": {name: True for name in exclude}, "renameByName": dict(rename)}
    organize["indexByName"] = {name: index for index, name in enumerate(order or [])}
    return [{"id": "merge", "options": {}}, {"id": "organize", "options": organize}]


# --- template variables -----------------------------------------------------------

def query_variable(name, label, query, include_all=True, multi=True):
    """A variable from label_values(); All is `.*` (regex matchers only)."""
    var = {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": PROM,
        "definition": query,
        "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "includeAll": include_all,
        "multi": multi,
        "hide": 0,
        "options": [],
    }
    if include_all:
        var["allValue"] = ".*"
        var["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    else:
        var["current"] = {}
    return var


# --- dashboards -----------------------------------------------------------------

class Dashboard:
    """Panels placed left to right in rows of 24 columns."""

    def __init__(self, name, title, description, variables=()):
        self.name = name
        self.title = title
        self.description = description
        self.variables = list(variables)
        self.panels = []
        self._x = 0
        self._y = 0
        self._line = 0

    def _newline(self):
        if self._x:
            self._y += self._line
        self._x = 0
        self._line = 0

    def row(self, title):
        self._newline()
        self.panels.append({"type": "row", "title": title, "collapsed": False, "panels": [],
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self._y}})
        self._y += 1
        return self

    def add(self, panel, w=12, h=8):
        if self._x + w > 24:
            self._newline()
        panel = dict(panel, gridPos={"h": h, "w": w, "x": self._x, "y": self._y})
        self.panels.append(panel)
        self._x += w
        self._line = max(self._line, h)
        return self

    def render(self):
        for index, panel in enumerate(self.panels, start=1):
            panel["id"] = index
        return {
            "annotations": {"list": [{
                "builtIn": 1,
                "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                "enable": True,
                "hide": True,
                "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts",
                "type": "dashboard",
            }]},
            "description": self.description,
            "editable": False,
            "fiscalYearStartMonth": 0,
            "graphTooltip": 1,
            "id": None,
            "links": [{
                "asDropdown": True,
                "icon": "external link",
                "includeVars": False,
                "keepTime": True,
                "tags": TAGS,
                "targetBlank": False,
                "title": "prodkit dashboards",
                "tooltip": "",
                "type": "dashboards",
                "url": "",
            }],
            "panels": self.panels,
            "refresh": "1m",
            "schemaVersion": SCHEMA_VERSION,
            "tags": TAGS,
            "templating": {"list": self.variables},
            "time": {"from": "now-6h", "to": "now"},
            "timepicker": {},
            "timezone": "browser",
            "title": self.title,
            "uid": "prodkit-" + self.name,
            "version": 1,
            "weekStart": "",
        }


def host():
    d = Dashboard("host", "prodkit / Host", "The Docker host: CPU, memory, disks, network (node-exporter).",
                  [query_variable("instance", "Host", "label_values(node_uname_info, instance)")])
    cpus = 'count by (instance) (node_cpu_seconds_total{mode="idle",%s})' % INST
    busy = '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle",%s}[$__rate_interval]))' % INST
    mem_used = "1 - node_memory_MemAvailable_bytes{%s} / node_memory_MemTotal_bytes{%s}" % (INST, INST)
    fs_used = "1 - node_filesystem_avail_bytes%s / node_filesystem_size_bytes%s" % (NODE_FS, NODE_FS)
    d.row("Overview")
    d.add(stat("Uptime", "Time since the host booted.", [("time() - node_boot_time_seconds{%s}" % INST,
                                                          "{{instance}}")],
               "dtdurations", steps("orange", 3600, "green"), color_mode="value"), 4, 4)
    d.add(stat("CPUs", "Logical CPUs.", [(cpus, "{{instance}}")], "none", BLUE, color_mode="value"), 4, 4)
    d.add(gauge("CPU busy", "Share of CPU time not idle, all CPUs.", [(busy, "{{instance}}")], "percentunit",
                steps("green", 0.8, "orange", 0.95, "red")), 4, 4)
    d.add(stat("Load (5m) per CPU", "5-minute load average divided by the number of CPUs; above 1 work waits.",
               [("node_load5{%s} / on (instance) %s" % (INST, cpus), "{{instance}}")], "none",
               steps("green", 1, "orange", 2, "red"), decimals=2), 4, 4)
    d.add(gauge("Memory used", "Memory not available to new work (MemTotal - MemAvailable).",
                [(mem_used, "{{instance}}")], "percentunit", steps("green", 0.8, "orange", 0.9, "red")), 4, 4)
    d.add(gauge("Root filesystem used", "Used share of the filesystem mounted on /.",
                [(fs_used.replace(INST, INST + ',mountpoint="/"'), "{{instance}}")], "percentunit",
                steps("green", 0.75, "orange", 0.85, "red")), 4, 4)

    d.row("CPU and load")
    d.add(timeseries("CPU usage by mode", "Share of all CPUs per mode (idle left out), stacked.",
                     [("sum by (instance, mode) (rate(node_cpu_seconds_total{mode!=\"idle\",%s}[$__rate_interval]))"
                       " / on (instance) group_left %s" % (INST, cpus), "{{mode}} ({{instance}})")],
                     "percentunit", minimum=0, maximum=1, stack=True))
    d.add(timeseries("Load average", "Load averages; the dashed line is the number of CPUs.",
                     [("node_load1{%s}" % INST, "1m ({{instance}})"),
                      ("node_load5{%s}" % INST, "5m ({{instance}})"),
                      ("node_load15{%s}" % INST, "15m ({{instance}})"),
                      (cpus, "CPUs ({{instance}})")],
                     "none", minimum=0, decimals=2,
                     overrides=[override("/^CPUs.*/", custom__lineStyle=DASHED, color={"fixedColor": "red",
                                                                                       "mode": "fixed"})]))

    d.row("Memory")
    d.add(timeseries("Memory", "Used (MemTotal - MemAvailable), page cache and buffers, and the total (dashed).",
                     [("node_memory_MemTotal_bytes{%s} - node_memory_MemAvailable_bytes{%s}" % (INST, INST),
                       "used ({{instance}})"),
                      ("node_memory_Cached_bytes{%s} + node_memory_Buffers_bytes{%s}" % (INST, INST),
                       "cache + buffers ({{instance}})"),
                      ("node_memory_MemTotal_bytes{%s}" % INST, "total ({{instance}})")],
                     "bytes", minimum=0,
                     overrides=[override("/^total.*/", custom__lineStyle=DASHED, custom__fillOpacity=0)]))
    d.add(timeseries("Swap used", "Swap in use; steady growth means memory pressure.",
                     [("node_memory_SwapTotal_bytes{%s} - node_memory_SwapFree_bytes{%s}" % (INST, INST),
                       "{{instance}}")],
                     "bytes", minimum=0), 8)
    d.add(timeseries("OOM kills", "Processes the kernel's OOM killer ended (node_vmstat_oom_kill).",
                     [("increase(node_vmstat_oom_kill{%s}[$__rate_interval])" % INST, "{{instance}}")],
                     "none", steps("green", 1, "red"), minimum=0, bars=True, decimals=0), 4)

    d.row("Disks")
    d.add(bargauge("Disk use per mountpoint", "Used share of each filesystem (container and kernel filesystems "
                   "left out).", [(fs_used, "{{mountpoint}}")], "percentunit",
                   steps("green", 0.75, "orange", 0.85, "red"), maximum=1), 8)
    d.add(timeseries("Disk use over time", "Used share of each filesystem.", [(fs_used, "{{mountpoint}}")],
                     "percentunit", steps("green", 0.85, "red"), minimum=0, maximum=1, threshold_lines=True), 8)
    d.add(timeseries("Filesystem fill forecast (7 days)",
                     "Used share each filesystem would reach in 7 days if the last 6 hours' trend went on "
                     "(predict_linear). Above 100% it fills up within the week.",
                     [("1 - predict_linear(node_filesystem_avail_bytes%s[6h], 7 * %d) / node_filesystem_size_bytes%s"
                       % (NODE_FS, DAY, NODE_FS), "{{mountpoint}}")],
                     "percentunit", steps("green", 0.9, "orange", 1, "red"), minimum=0, threshold_lines=True), 8)
    d.add(timeseries("Disk throughput", "Bytes read (up) and written (down) per second, per device.",
                     [("rate(node_disk_read_bytes_total{%s,%s}[$__rate_interval])" % (INST, DISK), "read {{device}}"),
                      ("rate(node_disk_written_bytes_total{%s,%s}[$__rate_interval])" % (INST, DISK),
                       "written {{device}}")],
                     "Bps", overrides=[override("/^written.*/", custom__transform="negative-Y")]), 8)
    d.add(timeseries("Disk busy", "Share of time each device was busy with I/O (io_time).",
                     [("rate(node_disk_io_time_seconds_total{%s,%s}[$__rate_interval])" % (INST, DISK), "{{device}}")],
                     "percentunit", steps("green", 0.8, "red"), minimum=0, maximum=1), 8)
    d.add(timeseries("Inodes used", "Used share of each filesystem's inodes.",
                     [("1 - node_filesystem_files_free%s / node_filesystem_files%s" % (NODE_FS, NODE_FS),
                       "{{mountpoint}}")],
                     "percentunit", steps("green", 0.85, "red"), minimum=0, maximum=1), 8)

    d.row("Network")
    d.add(timeseries("Network traffic", "Bytes received (up) and sent (down) per second on the host's interfaces "
                     "(loopback, Docker bridges and veth pairs left out).",
                     [("rate(node_network_receive_bytes_total{%s,%s}[$__rate_interval])" % (INST, NET),
                       "received {{device}}"),
                      ("rate(node_network_transmit_bytes_total{%s,%s}[$__rate_interval])" % (INST, NET),
                       "sent {{device}}")],
                     "Bps", overrides=[override("/^sent.*/", custom__transform="negative-Y")]), 8)
    d.add(timeseries("Network errors and drops", "Receive and transmit errors and dropped packets per second.",
                     [("rate(node_network_receive_errs_total{%s,%s}[$__rate_interval])" % (INST, NET),
                       "receive errors {{device}}"),
                      ("rate(node_network_transmit_errs_total{%s,%s}[$__rate_interval])" % (INST, NET),
                       "transmit errors {{device}}"),
                      ("rate(node_network_receive_drop_total{%s,%s}[$__rate_interval])" % (INST, NET),
                       "receive drops {{device}}"),
                      ("rate(node_network_transmit_drop_total{%s,%s}[$__rate_interval])" % (INST, NET),
                       "transmit drops {{device}}")],
                     "pps", minimum=0), 8)
    d.add(timeseries("TCP connections", "Established TCP connections and sockets in TIME_WAIT.",
                     [("node_netstat_Tcp_CurrEstab{%s}" % INST, "established ({{instance}})"),
                      ("node_sockstat_TCP_tw{%s}" % INST, "time-wait ({{instance}})")],
                     "none", minimum=0), 8)
    return d


def containers():
    svc = 'service=~"$service"'
    d = Dashboard("containers", "prodkit / Containers",
                  "Compose containers: state, health and restarts (prodkit-container-metrics, every container of "
                  "every Compose project on the host), and CPU and memory per container from cAdvisor.",
                  [query_variable("service", "Service", "label_values(prodkit_container_running, service)")])
    d.row("Compose services")
    d.add(stat("Running containers", "Containers that run.",
               ["sum(prodkit_container_running{%s})" % svc], "none", BLUE, color_mode="value"), 5, 4)
    d.add(stat("Stopped containers", "Compose containers that exist but do not run (exited, dead, paused, "
               "restarting).", ["count(prodkit_container_running{%s} == 0) or vector(0)" % svc], "none",
               steps("green", 1, "red")), 5, 4)
    d.add(stat("Unhealthy containers", "Containers whose Docker healthcheck fails.",
               ['count(prodkit_container_health_status{%s,status="unhealthy"} == 1) or vector(0)' % svc], "none",
               steps("green", 1, "red")), 5, 4)
    d.add(stat("Restarts in range", "Restarts by Docker in the selected time range, all containers.",
               ["round(sum(increase(prodkit_container_restart_count{%s}[$__range]))) or vector(0)" % svc], "none",
               steps("green", 1, "orange", 3, "red")), 5, 4)
    d.add(stat("Metrics age", "Time since prodkit-container-metrics last wrote its file (it runs every "
               "monitoring_container_metrics_interval seconds); stale values above 2 minutes.",
               ["time() - max(prodkit_container_metrics_last_run_timestamp_seconds)"], "s",
               steps("green", 120, "red"), decimals=0), 4, 4)
    d.add(table("Services", "One row per Compose container: whether it runs, its Docker health status and its "
                "restart count.",
                # Aggregated to the same labels (and no __name__), so that merge joins the rows.
                ["max by (project, service, container) (prodkit_container_running{%s})" % svc,
                 "max by (project, service, container, status) (prodkit_container_health_status{%s} == 1)" % svc,
                 "max by (project, service, container) (prodkit_container_restart_count{%s})" % svc],
                overrides=[
                    override("Running", mappings=RUNNING, custom__cellOptions=cell("color-background"),
                             custom__width=110),
                    override("Health", mappings=HEALTH, custom__cellOptions=cell("color-text"), custom__width=140),
                    override("Restarts", thresholds=steps("green", 1, "orange", 3, "red"),
                             custom__cellOptions=cell("color-text"), custom__width=100),
                ],
                transformations=merge_and_organize(
                    {"Value #A": "Running", "status": "Health", "Value #C": "Restarts", "project": "Project",
                     "service": "Service", "container": "Container"},
                    exclude=("Time", "Value #B"),
                    order=["Project", "Service", "Container", "Running", "Health", "Restarts"]),
                sort_by=[("Service", False)]), 24, 9)
    d.add(timeseries("Not running or unhealthy", "Per service: containers not running, and containers whose "
                     "healthcheck fails. Flat at zero when all is well.",
                     [("sum by (service) (1 - prodkit_container_running{%s})" % svc, "not running {{service}}"),
                      ('sum by (service) (prodkit_container_health_status{%s,status="unhealthy"})' % svc,
                       "unhealthy {{service}}")],
                     "none", steps("green", 1, "red"), minimum=0, decimals=0))
    d.add(timeseries("Restart count", "Docker's RestartCount per container (it resets when Compose recreates the "
                     "container).", [("prodkit_container_restart_count{%s}" % svc, "{{container}}")],
                     "none", minimum=0, decimals=0))

    cadvisor = (" Empty when cAdvisor is off (monitoring_cadvisor_enabled: false); container state and health "
                "above do not need it.")
    d.row("Resources per container (cAdvisor)")
    d.add(timeseries("CPU per container", "CPU time per second per container, in cores (1 = one CPU fully busy)."
                     + cadvisor,
                     [('sum by (name) (rate(container_cpu_usage_seconds_total{name!=""}[$__rate_interval]))',
                       "{{name}}")], "none", minimum=0, decimals=2), 8)
    d.add(timeseries("Memory per container", "Working set per container (what the kernel counts against its "
                     "limit)." + cadvisor,
                     [('sum by (name) (container_memory_working_set_bytes{name!=""})', "{{name}}")], "bytes",
                     minimum=0), 8)
    d.add(timeseries("Network per container", "Bytes received (up) and sent (down) per second per container."
                     + cadvisor,
                     [('sum by (name) (rate(container_network_receive_bytes_total{name!=""}[$__rate_interval]))',
                       "received {{name}}"),
                      ('sum by (name) (rate(container_network_transmit_bytes_total{name!=""}[$__rate_interval]))',
                       "sent {{name}}")],
                     "Bps", overrides=[override("/^sent.*/", custom__transform="negative-Y")]), 8)
    return d


def postgresql():
    db = 'datname=~"$database"'
    hit = "sum(rate(pg_stat_database_blks_hit{%s}[$__rate_interval]))" % db
    read = "sum(rate(pg_stat_database_blks_read{%s}[$__rate_interval]))" % db
    d = Dashboard("postgresql", "prodkit / PostgreSQL", "The application's PostgreSQL (postgres_exporter).",
                  [query_variable("database", "Database", "label_values(pg_database_size_bytes, datname)")])
    d.row("Overview")
    d.add(stat("PostgreSQL", "Whether postgres_exporter reaches the server (pg_up).", ["min(pg_up)"], "none",
               steps("red", 1, "green"), UP_DOWN), 4, 4)
    d.add(stat("Connections", "Server processes of the selected databases (pg_stat_activity).",
               ["sum(pg_stat_activity_count{%s})" % db], "none", BLUE, color_mode="value"), 4, 4)
    d.add(gauge("Connections used", "All connections of the server over max_connections.",
                ["sum(pg_stat_activity_count) / max(pg_settings_max_connections)"], "percentunit",
                steps("green", 0.7, "orange", 0.9, "red")), 4, 4)
    d.add(stat("Database size", "Size of the selected databases.", ["sum(pg_database_size_bytes{%s})" % db],
               "bytes", BLUE, color_mode="value", graph=True), 4, 4)
    d.add(stat("Cache hit ratio", "Blocks found in shared buffers over all blocks read. Low values on an idle "
               "database mean little.", ["%s / (%s + %s)" % (hit, hit, read)], "percentunit",
               steps("red", 0.9, "orange", 0.98, "green"), decimals=1), 4, 4)
    d.add(stat("Deadlocks in range", "Deadlocks detected in the selected time range.",
               ["round(sum(increase(pg_stat_database_deadlocks{%s}[$__range])))" % db], "none",
               steps("green", 1, "red")), 4, 4)

    d.row("Activity")
    d.add(timeseries("Connections by state", "Server processes by state; the dashed line is max_connections.",
                     [("sum by (state) (pg_stat_activity_count{%s})" % db, "{{state}}"),
                      ("max(pg_settings_max_connections)", "max_connections")],
                     "none", minimum=0, decimals=0,
                     overrides=[override("max_connections", custom__lineStyle=DASHED,
                                         color={"fixedColor": "red", "mode": "fixed"})]), 8)
    d.add(timeseries("Connections by database", "Server processes per database.",
                     [("sum by (datname) (pg_stat_activity_count{%s})" % db, "{{datname}}")], "none", minimum=0,
                     decimals=0), 8)
    d.add(timeseries("Transactions", "Commits (up) and rollbacks (down) per second per database.",
                     [("sum by (datname) (rate(pg_stat_database_xact_commit{%s}[$__rate_interval]))" % db,
                       "commit {{datname}}"),
                      ("sum by (datname) (rate(pg_stat_database_xact_rollback{%s}[$__rate_interval]))" % db,
                       "rollback {{datname}}")],
                     "ops", overrides=[override("/^rollback.*/", custom__transform="negative-Y")]), 8)
    d.add(timeseries("Rows", "Rows fetched, inserted, updated and deleted per second.",
                     [("sum(rate(pg_stat_database_tup_fetched{%s}[$__rate_interval]))" % db, "fetched"),
                      ("sum(rate(pg_stat_database_tup_inserted{%s}[$__rate_interval]))" % db, "inserted"),
                      ("sum(rate(pg_stat_database_tup_updated{%s}[$__rate_interval]))" % db, "updated"),
                      ("sum(rate(pg_stat_database_tup_deleted{%s}[$__rate_interval]))" % db, "deleted")],
                     "rowsps", minimum=0), 8)
    d.add(timeseries("Cache hit ratio", "Blocks found in shared buffers over all blocks read, per database.",
                     [("sum by (datname) (rate(pg_stat_database_blks_hit{%s}[$__rate_interval])) / (sum by (datname) "
                       "(rate(pg_stat_database_blks_hit{%s}[$__rate_interval])) + sum by (datname) "
                       "(rate(pg_stat_database_blks_read{%s}[$__rate_interval])))" % (db, db, db), "{{datname}}")],
                     "percentunit", steps("red", 0.9, "orange", 0.98, "green"), maximum=1), 8)
    d.add(timeseries("Deadlocks", "Deadlocks per second per database.",
                     [("sum by (datname) (rate(pg_stat_database_deadlocks{%s}[$__rate_interval]))" % db,
                       "{{datname}}")], "ops", steps("green", 0.001, "red"), minimum=0, bars=True), 8)

    d.row("Size")
    d.add(timeseries("Database size", "Size of each database over time.",
                     [("pg_database_size_bytes{%s}" % db, "{{datname}}")], "bytes", minimum=0), 16)
    d.add(bargauge("Database size now", "Current size of each database.",
                   [("pg_database_size_bytes{%s}" % db, "{{datname}}")], "bytes", BLUE), 8)
    return d


def redis():
    hits = "sum(rate(redis_keyspace_hits_total[$__rate_interval]))"
    misses = "sum(rate(redis_keyspace_misses_total[$__rate_interval]))"
    d = Dashboard("redis", "prodkit / Redis", "The application's Redis: Celery's broker and Django's cache "
                  "(redis_exporter).")
    d.row("Overview")
    d.add(stat("Redis", "Whether redis_exporter reaches Redis (redis_up).", ["min(redis_up)"], "none",
               steps("red", 1, "green"), UP_DOWN), 4, 4)
    d.add(stat("Uptime", "Time since Redis started.", ["max(redis_uptime_in_seconds)"], "dtdurations",
               steps("orange", 3600, "green"), color_mode="value"), 4, 4)
    d.add(stat("Clients", "Connected clients.", ["sum(redis_connected_clients)"], "none", BLUE,
               color_mode="value", graph=True), 4, 4)
    d.add(stat("Memory used", "Memory Redis allocated (used_memory).", ["sum(redis_memory_used_bytes)"], "bytes",
               BLUE, color_mode="value", graph=True), 4, 4)
    d.add(stat("Hit ratio", "Keyspace hits over lookups (hits + misses).", ["%s / (%s + %s)" % (hits, hits, misses)],
               "percentunit", steps("orange", 0.8, "green"), decimals=1), 4, 4)
    d.add(stat("Celery queue", "Messages waiting in Celery's default queue (the Redis list `celery`).",
               ["sum(%s)" % CELERY_QUEUE], "none", steps("green", 100, "orange", 1000, "red")), 4, 4)

    d.row("Details")
    d.add(timeseries("Memory", "Memory used, resident set (RSS) and the maxmemory limit (dashed; absent when "
                     "maxmemory is unset).",
                     [("sum(redis_memory_used_bytes)", "used"),
                      ("sum(redis_memory_used_rss_bytes)", "rss"),
                      ("max(redis_memory_max_bytes) > 0", "maxmemory")],
                     "bytes", minimum=0,
                     overrides=[override("maxmemory", custom__lineStyle=DASHED,
                                         color={"fixedColor": "red", "mode": "fixed"})]), 8)
    d.add(timeseries("Clients", "Connected clients, and clients blocked in a blocking call (BLPOP: Celery "
                     "workers waiting for a task).",
                     [("sum(redis_connected_clients)", "connected"), ("sum(redis_blocked_clients)", "blocked")],
                     "none", minimum=0, decimals=0), 8)
    d.add(timeseries("Commands", "Commands processed per second.",
                     [("sum(rate(redis_commands_processed_total[$__rate_interval]))", "commands")],
                     "ops", minimum=0), 8)
    d.add(timeseries("Keyspace hits and misses", "Key lookups that found (hits) or missed (misses) a key, per "
                     "second.", [(hits, "hits"), (misses, "misses")], "ops", minimum=0), 8)
    d.add(timeseries("Keys", "Keys per database, and keys expired and evicted per second (right axis).",
                     [("sum by (db) (redis_db_keys)", "keys {{db}}"),
                      ("sum(rate(redis_expired_keys_total[$__rate_interval]))", "expired/s"),
                      ("sum(rate(redis_evicted_keys_total[$__rate_interval]))", "evicted/s")],
                     "none", minimum=0,
                     overrides=[override("/.*/s$/", custom__axisPlacement="right", unit="ops")]), 8)
    d.add(timeseries("Celery queue length", "Messages waiting in Celery's queue (redis_key_size of the key "
                     "`celery`: monitoring_redis_check_keys).",
                     [(CELERY_QUEUE, "{{db}} {{key}}")], "none", steps("green", 100, "orange", 1000, "red"),
                     minimum=0, decimals=0, threshold_lines=True), 8)
    return d


def http():
    status_rate = "sum by (status) (rate(%s[$__rate_interval]))" % DJANGO
    all_rate = "sum(rate(%s[$__rate_interval]))" % DJANGO
    err_ratio = '(sum(rate(%s{status=~"5.."}[$__rate_interval])) or vector(0)) / %s' % (DJANGO, all_rate)

    def quantile(q, by="le"):
        return "histogram_quantile(%s, sum by (%s) (rate(%s[$__rate_interval])))" % (q, by, DJANGO_LATENCY)

    d = Dashboard("http", "prodkit / HTTP", "Django's requests (django-prometheus), the site as the blackbox "
                  "exporter sees it from inside, and nginx's log.")
    d.row("Django")
    d.add(stat("Requests", "Django responses per second, all statuses.", [all_rate], "reqps", BLUE,
               color_mode="value", graph=True), 6, 4)
    d.add(stat("5xx ratio", "Share of Django's responses with a 5xx status.", [err_ratio], "percentunit",
               steps("green", 0.01, "orange", 0.05, "red"), decimals=2, graph=True), 6, 4)
    d.add(stat("Latency p95", "95th percentile of Django's request latency, all views.", [quantile(0.95)], "s",
               steps("green", 0.5, "orange", 1.5, "red"), graph=True), 6, 4)
    d.add(stat("Failing probes", "Blackbox probes whose last attempt failed.",
               ["count(probe_success == 0) or vector(0)"], "none", steps("green", 1, "red")), 6, 4)
    d.add(timeseries("Responses by status", "Django responses per second by HTTP status, stacked.",
                     [(status_rate, "{{status}}")], "reqps", minimum=0, stack=True,
                     overrides=[override("/^5.*/", color={"fixedColor": "red", "mode": "fixed"}),
                                override("/^4.*/", color={"fixedColor": "orange", "mode": "fixed"})]))
    d.add(timeseries("5xx ratio", "Share of Django's responses with a 5xx status; the dashed lines are 1% and 5%.",
                     [(err_ratio, "5xx")], "percentunit", steps("green", 0.01, "orange", 0.05, "red"), minimum=0,
                     threshold_lines=True))
    d.add(timeseries("Latency", "Percentiles of Django's request latency, all views (from the histogram "
                     "buckets: at most as precise as the buckets).",
                     [(quantile(0.5), "p50"), (quantile(0.95), "p95"), (quantile(0.99), "p99")], "s", minimum=0))
    d.add(table("Slowest views (p95 over the range)", "The ten views with the highest 95th-percentile latency "
                "in the selected time range.",
                ["topk(10, histogram_quantile(0.95, sum by (le, view, method) (increase(%s[$__range]))) > 0)"
                 % DJANGO_LATENCY],
                "s", steps("green", 0.5, "orange", 1.5, "red"),
                overrides=[override("p95", custom__cellOptions=cell("color-text"))],
                transformations=merge_and_organize({"Value": "p95", "view": "View", "method": "Method"},
                                                   order=["View", "Method", "p95"]),
                sort_by=[("p95", True)]))

    d.row("Blackbox probes")
    d.add(table("Probes", "Each probed URL: success, HTTP status, duration and days until its certificate expires "
                "(HTTPS only).",
                ["max by (instance) (probe_success)", "max by (instance) (probe_http_status_code)",
                 "max by (instance) (probe_duration_seconds)",
                 "min by (instance) (probe_ssl_earliest_cert_expiry - time()) / %d" % DAY],
                overrides=[
                    override("Up", mappings=UP_DOWN, custom__cellOptions=cell("color-background"),
                             custom__width=90),
                    override("Status", unit="none", custom__width=90),
                    override("Duration", unit="s", decimals=3, custom__width=110),
                    override("Certificate days left", unit="none", decimals=0, custom__width=170,
                             thresholds=steps("red", 7, "orange", 21, "green"),
                             custom__cellOptions=cell("color-text")),
                ],
                transformations=merge_and_organize(
                    {"instance": "URL", "Value #A": "Up", "Value #B": "Status", "Value #C": "Duration",
                     "Value #D": "Certificate days left"},
                    order=["URL", "Up", "Status", "Duration", "Certificate days left"]),
                sort_by=[("URL", False)]), 24, 6)
    d.add(timeseries("Probe success", "1 when the probe succeeded (status 2xx, TLS valid), 0 when not.",
                     [("probe_success", "{{instance}}")], "none", steps("red", 1, "green"), minimum=0, maximum=1,
                     decimals=0), 8)
    d.add(timeseries("Probe duration", "Time the whole probe took (DNS, connect, TLS, request).",
                     [("probe_duration_seconds", "{{instance}}")], "s", minimum=0), 8)
    d.add(timeseries("Probe HTTP status", "HTTP status code of the last probe (0: no response).",
                     [("probe_http_status_code", "{{instance}}")], "none", minimum=0, decimals=0), 8)

    d.row("nginx log")
    d.add(logs("nginx", "Access and error log of the nginx container (Loki; needs monitoring_loki_enabled).",
               '{compose_service="nginx"}'), 24, 12)
    return d


def celery():
    d = Dashboard("celery", "prodkit / Celery", "Celery workers and tasks as Flower reports them, the queue in "
                  "Redis, and the workers' log.")
    d.row("Overview")
    d.add(stat("Workers online", "Celery workers Flower sees online.", ["sum(flower_worker_online)"], "none",
               steps("red", 1, "green")), 6, 4)
    d.add(stat("Tasks running", "Tasks executing now, all workers.",
               ["sum(flower_worker_number_of_currently_executing_tasks)"], "none", BLUE, color_mode="value",
               graph=True), 6, 4)
    d.add(stat("Queue length", "Messages waiting in Celery's default queue (the Redis list `celery`).",
               ["sum(%s)" % CELERY_QUEUE], "none", steps("green", 100, "orange", 1000, "red"), graph=True), 6, 4)
    d.add(stat("Failed tasks in range", "Tasks that failed in the selected time range.",
               ['round(sum(increase(flower_events_total{type="task-failed"}[$__range]))) or vector(0)'], "none",
               steps("green", 1, "red")), 6, 4)
    d.row("Tasks")
    d.add(timeseries("Task events by type", "Flower's task events per second by type (received, started, "
                     "succeeded, failed, retried, ...).",
                     [("sum by (type) (rate(flower_events_total[$__rate_interval]))", "{{type}}")], "ops", minimum=0,
                     overrides=[override("task-failed", color={"fixedColor": "red", "mode": "fixed"})]))
    d.add(timeseries("Failed and retried tasks", "Failures and retries per second by task.",
                     [('sum by (task, type) (rate(flower_events_total{type=~"task-failed|task-retried"}'
                       '[$__rate_interval]))', "{{type}} {{task}}")], "ops", minimum=0))
    d.add(timeseries("Task runtime", "Runtime percentiles per task (flower_task_runtime_seconds). Empty when the "
                     "Flower version does not export that histogram or no task ran.",
                     [("histogram_quantile(0.5, sum by (le, task) (rate(flower_task_runtime_seconds_bucket"
                       "[$__rate_interval])))", "p50 {{task}}"),
                      ("histogram_quantile(0.95, sum by (le, task) (rate(flower_task_runtime_seconds_bucket"
                       "[$__rate_interval])))", "p95 {{task}}")], "s", minimum=0))
    d.add(timeseries("Queue length", "Messages waiting in Celery's default queue; growth means the workers do not "
                     "keep up.", [(CELERY_QUEUE, "{{key}}")], "none", steps("green", 100, "orange", 1000, "red"),
                     minimum=0, decimals=0, threshold_lines=True))
    d.row("Workers")
    d.add(timeseries("Workers online", "1 per worker Flower sees online.", [("flower_worker_online", "{{worker}}")],
                     "none", steps("red", 1, "green"), minimum=0, decimals=0))
    d.add(timeseries("Tasks running per worker", "Tasks each worker executes now.",
                     [("flower_worker_number_of_currently_executing_tasks", "{{worker}}")], "none", minimum=0,
                     decimals=0))
    d.row("Logs")
    d.add(logs("Celery workers and beat", "Log of the celery and celery-beat containers (Loki; needs "
               "monitoring_loki_enabled).", '{compose_service=~"celery|celery-beat"}'), 24, 12)
    return d


def backups():
    d = Dashboard("backups", "prodkit / Backups", "restic backups and restore drills (prodkit-backup, "
                  "prodkit-backup-drill textfile metrics of prodkit.stack.backups).")
    d.row("Backup")
    d.add(stat("Last backup", "Whether the last prodkit-backup run succeeded.", ["prodkit_backup_success"], "none",
               steps("red", 1, "green"), OK_FAILED), 4, 4)
    d.add(stat("Since last good backup", "Time since the last successful backup (runs daily; orange after 26 "
               "hours, red after 50).", ["time() - prodkit_backup_last_success_timestamp_seconds"], "dtdurations",
               steps("green", 26 * 3600, "orange", 50 * 3600, "red")), 4, 4)
    d.add(stat("Duration", "How long the last backup run took.", ["prodkit_backup_duration_seconds"], "dtdurations",
               BLUE, color_mode="value"), 4, 4)
    d.add(stat("Added by last run", "New data the last run added to the repository (restic data_added), all parts.",
               ["sum(prodkit_backup_added_bytes)"], "bytes", BLUE, color_mode="value"), 4, 4)
    d.add(stat("Snapshots", "Snapshots tagged prodkit in the repository.", ["prodkit_backup_snapshot_count"], "none",
               steps("red", 1, "green"), color_mode="value"), 4, 4)
    d.add(stat("Repository size", "Size of the repository's data (restic stats --mode raw-data).",
               ["prodkit_backup_repository_size_bytes"], "bytes", BLUE, color_mode="value"), 4, 4)
    d.row("Restore drill")
    d.add(stat("Last drill", "Whether the last restore drill matched the backup's manifest.",
               ["prodkit_backup_drill_success"], "none", steps("red", 1, "green"), OK_FAILED), 6, 4)
    d.add(stat("Since last good drill", "Time since the last successful restore drill (runs weekly; orange after "
               "8 days, red after 15).", ["time() - prodkit_backup_drill_last_success_timestamp_seconds"],
               "dtdurations", steps("green", 8 * DAY, "orange", 15 * DAY, "red")), 6, 4)
    d.add(stat("Drill duration", "How long the last restore drill took.", ["prodkit_backup_drill_duration_seconds"],
               "dtdurations", BLUE, color_mode="value"), 6, 4)
    d.add(stat("Rows verified", "Rows the last successful drill compared with the manifest.",
               ["prodkit_backup_drill_rows"], "none", BLUE, color_mode="value"), 6, 4)
    d.row("History")
    d.add(timeseries("Size per part", "Size of each part as the last run read it (restic "
                     "total_bytes_processed).", [("prodkit_backup_size_bytes", "{{part}}")], "bytes", minimum=0))
    d.add(timeseries("Added per part", "New data each run added to the repository per part (after "
                     "deduplication).", [("prodkit_backup_added_bytes", "{{part}}")], "bytes", minimum=0))
    d.add(timeseries("Repository", "Repository size, and the number of snapshots (right axis).",
                     [("prodkit_backup_repository_size_bytes", "repository size"),
                      ("prodkit_backup_snapshot_count", "snapshots")], "bytes", minimum=0,
                     overrides=[override("snapshots", unit="none", decimals=0, custom__axisPlacement="right")]))
    d.add(timeseries("Results and durations", "Success of backups and drills (1 OK, 0 failed) and their duration "
                     "(right axis).",
                     [("prodkit_backup_success", "backup ok"), ("prodkit_backup_drill_success", "drill ok"),
                      ("prodkit_backup_duration_seconds", "backup duration"),
                      ("prodkit_backup_drill_duration_seconds", "drill duration")], "none", minimum=0,
                     overrides=[override("/.* duration$/", unit="s", custom__axisPlacement="right")]))
    return d


def certificates():
    nginx_days = "(prodkit_tls_certificate_not_after_timestamp_seconds - time()) / %d" % DAY
    probe_days = "(probe_ssl_earliest_cert_expiry - time()) / %d" % DAY
    days = steps("red", 7, "orange", 21, "green")
    d = Dashboard("certificates", "prodkit / Certificates", "TLS certificates: what nginx serves (prodkit.stack."
                  "nginx_certbot's textfile metrics), what the blackbox probes see, and certbot's renewals.")
    d.row("Expiry")
    d.add(stat("Certificate days left", "Days until each certificate nginx serves expires (certbot renews 30 days "
               "before).", [(nginx_days, "{{cert_name}}")], "none", days, decimals=0), 8, 5)
    d.add(stat("Probed certificate days left", "Days until the earliest certificate of each probed HTTPS URL's "
               "chain expires, as a client sees it.", [(probe_days, "{{instance}}")], "none", days, decimals=0), 8, 5)
    d.add(stat("certbot renew", "Whether the last `certbot renew` run succeeded. Absent unless "
               "nginx_certbot_mode is letsencrypt.", ["prodkit_certbot_renew_success"], "none",
               steps("red", 1, "green"), OK_FAILED), 4, 5)
    d.add(stat("Last renew run", "Time since certbot.timer last ran `certbot renew` (twice a day; orange after 2 "
               "days, red after 4). Absent unless nginx_certbot_mode is letsencrypt.",
               ["time() - prodkit_certbot_renew_last_run_timestamp_seconds"], "dtdurations",
               steps("green", 2 * DAY, "orange", 4 * DAY, "red")), 4, 5)
    d.add(table("Certificates", "Each certificate nginx serves, its mode and its expiry.",
                ["max by (cert_name, mode) (prodkit_tls_certificate_not_after_timestamp_seconds) * 1000",
                 "max by (cert_name, mode) (%s)" % nginx_days],
                overrides=[override("Expires", unit="dateTimeAsIso"),
                           override("Days left", decimals=0, thresholds=days,
                                    custom__cellOptions=cell("color-background"))],
                transformations=merge_and_organize(
                    {"cert_name": "Certificate", "mode": "Mode", "Value #A": "Expires", "Value #B": "Days left"},
                    exclude=("Time",),
                    order=["Certificate", "Mode", "Expires", "Days left"]),
                sort_by=[("Days left", False)]), 12, 6)
    d.add(timeseries("Days left over time", "Days until expiry; a renewal shows as a jump up. The dashed lines "
                     "are 7 and 21 days.",
                     [(nginx_days, "nginx {{cert_name}}"), (probe_days, "probe {{instance}}")], "none", days,
                     minimum=0, decimals=0, threshold_lines=True), 12, 6)
    d.row("Renewal")
    d.add(timeseries("Renew runs", "Result of each `certbot renew` run (1 OK, 0 failed), and time since the last "
                     "success (right axis).",
                     [("prodkit_certbot_renew_success", "renew ok"),
                      ("time() - prodkit_certbot_renew_last_success_timestamp_seconds", "since last success")],
                     "none", minimum=0,
                     overrides=[override("since last success", unit="dtdurations", custom__axisPlacement="right")]))
    d.add(timeseries("Renew duration", "How long each `certbot renew` run took.",
                     [("prodkit_certbot_renew_duration_seconds", "duration")], "s", minimum=0))
    return d


DASHBOARDS = [host, containers, postgresql, redis, http, celery, backups, certificates]


def render_all():
    """{file name: JSON text} of every dashboard."""
    out = {}
    for build in DASHBOARDS:
        board = build()
        out[board.name + ".json"] = json.dumps(board.render(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is out of date")
    parser.add_argument("--out", default=OUT_DIR, help="directory of the dashboards (default: the role's)")
    args = parser.parse_args(argv)
    wanted = render_all()
    present = {name for name in os.listdir(args.out) if name.endswith(".json")} if os.path.isdir(args.out) else set()
    # A dashboard file this script does not write is an error either way: the
    # description above is the only source (it is not deleted here, though).
    foreign = sorted(present - set(wanted))
    stale = []
    for name, text in sorted(wanted.items()):
        path = os.path.join(args.out, name)
        current = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                current = handle.read()
        if current != text:
            stale.append(name)
            if not args.check:
                os.makedirs(args.out, exist_ok=True)
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(text)
    if stale:
        print("%s: %s" % ("out of date" if args.check else "written", ", ".join(stale)))
    if foreign:
        print("not generated by %s (remove them or add them here): %s" % (os.path.basename(__file__),
                                                                          ", ".join(foreign)), file=sys.stderr)
    return 1 if foreign or (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
