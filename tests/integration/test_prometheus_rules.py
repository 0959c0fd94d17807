"""The shipped monitoring: deploy/prometheus/ (alerts, their unit tests, an example
configuration) and deploy/grafana/videoplatform.json.

- ``promtool`` checks the rules and the configuration and runs the alerts' unit tests
  (deploy/prometheus/alerts_test.yml: each alert fires on a synthetic outage and stays
  quiet on healthy series); every dashboard query goes through it as well, so each is
  valid PromQL.
- Every query, of the alerts, of the dashboard and of the unit tests' series, uses only
  the metric names, labels and label values of the platform's metrics contract (below),
  plus ``up``, and only routes the API has. A query on a misspelt name is not an error in
  Prometheus: it returns nothing, and an alert on it never fires.
- The contract itself is checked against what ``GET /metrics`` of an in-memory platform
  exposes, and a real Prometheus, run with the example configuration as the README
  installs it, scrapes that platform with the token file and loads the alerts.

A missing ``promtool`` (or ``prometheus``) skips the tests that run it, or fails them
under ``VIDEOPLATFORM_REQUIRE_SERVICES=1`` (like a missing service, see
tests/conftest.py); ``VIDEOPLATFORM_TEST_PROMTOOL`` and ``VIDEOPLATFORM_TEST_PROMETHEUS``
name binaries to use instead of those on the PATH. Debian ships both in the package
``prometheus``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import falcon.testing
import httpx
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; values are checked
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REQUIRE_SERVICES_ENV, services_required
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.http.app import App, create_app
from videoplatform.entrypoints.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERTS_TEST = PROMETHEUS_DIR / "alerts_test.yml"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "videoplatform.json"
JOB = "videoplatform"
METRICS_TOKEN = "a-metrics-token-of-at-least-16-characters"
PROMTOOL_TIMEOUT_S = 120

# -- the metrics contract ----------------------------------------------------------------

Values = frozenset[str] | None
"""A label's allowed values; None: any (route templates, codes, names...)."""


@dataclass(frozen=True)
class Family:
    kind: str  # counter, gauge or histogram
    labels: Mapping[str, Values] = field(default_factory=dict)


CONTRACT: dict[str, Family] = {
    "videoplatform_http_requests_total": Family(
        "counter", {"method": None, "route": None, "status": None}
    ),
    "videoplatform_http_request_duration_seconds": Family(
        "histogram", {"method": None, "route": None}
    ),
    "videoplatform_use_case_calls_total": Family("counter", {"name": None, "outcome": None}),
    "videoplatform_use_case_duration_seconds": Family("histogram", {"name": None}),
    "videoplatform_logins_total": Family(
        "counter", {"result": frozenset({"ok", "failed", "throttled"})}
    ),
    "videoplatform_uploads_total": Family("counter"),
    "videoplatform_upload_bytes_total": Family("counter"),
    "videoplatform_processing_outcomes_total": Family(
        "counter",
        {
            "outcome": frozenset(
                {"ready", "failed", "gave_up", "retry", "superseded", "already_done", "gone"}
            )
        },
    ),
    "videoplatform_videos": Family(
        "gauge", {"status": frozenset({"uploaded", "processing", "ready", "failed"})}
    ),
    "videoplatform_outbox_pending": Family("gauge"),
    "videoplatform_outbox_oldest_age_seconds": Family("gauge"),
    "videoplatform_event_streams_open": Family("gauge"),
    "videoplatform_dependency_up": Family(
        "gauge",
        {"dependency": frozenset({"database", "storage", "queue", "cache", "feed", "mail"})},
    ),
    "videoplatform_data_dir_free_bytes": Family("gauge"),
    "videoplatform_share_redemptions_total": Family(
        "counter", {"result": frozenset({"ok", "refused", "throttled"})}
    ),
    "videoplatform_storage_operation_seconds": Family(
        "histogram",
        {
            "operation": frozenset(
                {
                    "put",
                    "get",
                    "stat",
                    "exists",
                    "open_file",
                    "download_url",
                    "delete",
                    "delete_prefix",
                    "sweep_partial",
                }
            )
        },
    ),
    "videoplatform_cache_reads_total": Family("counter", {"result": frozenset({"hit", "miss"})}),
    "videoplatform_db_pool_connections": Family(
        "gauge", {"state": frozenset({"in_use", "idle", "overflow"})}
    ),
    "videoplatform_circuit_state": Family(
        "gauge", {"dependency": frozenset({"storage", "queue", "feed", "mail"})}
    ),
    "videoplatform_processing_stage_seconds": Family(
        "histogram", {"stage": frozenset({"fetch", "probe", "ladder", "stills", "upload"})}
    ),
    "videoplatform_transcode_speed_ratio": Family("histogram"),
    "videoplatform_queue_jobs": Family(
        "gauge", {"state": frozenset({"ready", "retrying", "dead"})}
    ),
}
TARGET_LABELS: Mapping[str, Values] = {"job": None, "instance": None}
"""Labels Prometheus adds to every series it scrapes."""
NOT_ROUTES = frozenset({"/metrics", "unmatched"})
"""Values of ``route`` besides the API's own: the scrape endpoint (outside the API and
its OpenAPI document, like /health) and requests no route matched."""


def series_names() -> dict[str, Mapping[str, Values]]:
    """Every series name a query may use, with the labels it has."""
    names: dict[str, Mapping[str, Values]] = {"up": dict(TARGET_LABELS)}
    for name, family in CONTRACT.items():
        labels = {**TARGET_LABELS, **family.labels}
        if family.kind == "histogram":
            names[name + "_bucket"] = {**labels, "le": None}
            names[name + "_sum"] = labels
            names[name + "_count"] = labels
        else:
            names[name] = labels
    return names


SERIES = series_names()
ALL_LABELS = frozenset(label for labels in SERIES.values() for label in labels)


# -- reading PromQL ----------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
    | (?P<range>\[[^\]]*\])
    | (?P<variable>\$\{?\w+\}?)
    | (?P<number>0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?:(?:ms|[smhdwy])\d*)*)
    | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
    | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=(){},@])
    """,
    re.VERBOSE,
)
_GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_KEYWORDS = frozenset({"bool", "and", "or", "unless", "offset", "atan2", "inf", "nan"})
_AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str


@dataclass(frozen=True)
class Selector:
    name: str | None
    matchers: tuple[Matcher, ...]


@dataclass(frozen=True)
class Query:
    """What a PromQL expression reads: its selectors and the labels it groups by."""

    selectors: tuple[Selector, ...]
    grouping: frozenset[str]


def _tokens(expr: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        assert match is not None, f"cannot read {expr[position:]!r} in {expr!r}"
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            found.append((kind, match.group()))
        position = match.end()
    return found


def _unquote(literal: str) -> str:
    if literal.startswith("`"):
        return literal[1:-1]
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


def read_query(expr: str) -> Query:
    """The selectors and grouping labels of ``expr``. Validity is promtool's business;
    this reads names well enough to check them."""
    tokens = _tokens(expr)
    selectors: list[Selector] = []
    grouping: set[str] = set()
    i = 0

    def matchers_from(start: int) -> tuple[tuple[Matcher, ...], int]:
        """Read ``{label op "value", ...}`` from the ``{`` at ``start``."""
        found: list[Matcher] = []
        j = start + 1
        while tokens[j] != ("op", "}"):
            if tokens[j] == ("op", ","):
                j += 1
                continue
            (label_kind, label), (_, op), (value_kind, value) = tokens[j : j + 3]
            assert label_kind == "ident" and value_kind == "string", f"odd matcher in {expr!r}"
            found.append(Matcher(label, op, _unquote(value)))
            j += 3
        return tuple(found), j + 1

    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
        if kind == "ident" and text.lower() in _GROUPING:
            if following == ("op", "("):
                j = i + 2
                while tokens[j] != ("op", ")"):
                    if tokens[j][0] == "ident":
                        grouping.add(tokens[j][1])
                    j += 1
                i = j + 1
                continue
            i += 1
        elif kind == "ident" and (
            following == ("op", "(") or text.lower() in _KEYWORDS or text in _AGGREGATIONS
        ):
            i += 1  # a function, an aggregation or a keyword
        elif kind == "ident":
            if following == ("op", "{"):
                matchers, i = matchers_from(i + 1)
            else:
                matchers, i = (), i + 1
            selectors.append(Selector(text, matchers))
        elif (kind, text) == ("op", "{"):
            matchers, i = matchers_from(i)
            selectors.append(Selector(None, matchers))
        else:
            i += 1
    return Query(tuple(selectors), frozenset(grouping))


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regular expression."""
    parts, depth, current = [], 0, ""
    for char in pattern:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def contract_problems(expr: str, routes: frozenset[str] | None = None) -> list[str]:
    """What in ``expr`` is outside the metrics contract: unknown series names, labels a
    series does not have, values a closed label never takes, and (given ``routes``, the
    API's route templates) routes that do not exist. Empty when all is well."""
    problems: list[str] = []
    query = read_query(expr)
    for selector in query.selectors:
        if selector.name is None or selector.name not in SERIES:
            problems.append(f"series {selector.name!r} is not in the metrics contract")
            continue
        labels = SERIES[selector.name]
        for matcher in selector.matchers:
            if matcher.label not in labels:
                problems.append(f"{selector.name} has no label {matcher.label!r}")
                continue
            allowed = labels[matcher.label]
            if matcher.label == "route" and routes is not None:
                allowed = routes | NOT_ROUTES
            if allowed is None or "$" in matcher.value:  # open, or a dashboard variable
                continue
            if matcher.op in ("=", "!="):
                if matcher.value not in allowed:
                    problems.append(f"{selector.name}: {matcher.label} is never {matcher.value!r}")
                continue
            for alternative in _alternatives(matcher.value):
                if not any(re.fullmatch(alternative, value) for value in allowed):
                    problems.append(
                        f"{selector.name}: {alternative!r} of {matcher.label}"
                        f"{matcher.op}{matcher.value!r} matches none of {sorted(allowed)}"
                    )
    for label in sorted(query.grouping - ALL_LABELS):
        problems.append(f"no series of the contract has the label {label!r}")
    return problems


# -- the files ---------------------------------------------------------------------------


def load_yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{path.name} is not a YAML mapping"
    return loaded


def api_job(config: Mapping[str, Any]) -> dict[str, Any]:
    """The scrape job of the API nodes in a Prometheus configuration."""
    jobs = [job for job in config["scrape_configs"] if job["job_name"] == JOB]
    assert len(jobs) == 1, f"one scrape job named {JOB!r}"
    job: dict[str, Any] = jobs[0]
    return job


def alert_rules() -> list[dict[str, Any]]:
    groups = load_yaml(ALERTS)["groups"]
    assert [group["name"] for group in groups] == ["videoplatform"]
    rules: list[dict[str, Any]] = groups[0]["rules"]
    return rules


def dashboard() -> dict[str, Any]:
    loaded = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def dashboard_panels() -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries() -> dict[str, str]:
    """Every PromQL expression of the dashboard, by where it is."""
    queries = {
        f"panel {panel['id']} ({panel['title']}) {target['refId']}": target["expr"]
        for panel in dashboard_panels()
        for target in panel.get("targets", [])
    }
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        found = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", text)
        assert found is not None, f"variable {variable['name']}: unexpected query {text!r}"
        assert found.group(2) in ALL_LABELS, text
        queries[f"variable {variable['name']}"] = found.group(1)
    return queries


def as_prometheus_expression(dashboard_expr: str) -> str:
    """A dashboard query with Grafana's variables replaced by what they stand for."""
    for variable, value in (
        ("$__rate_interval", "1m"),
        ("$__interval", "1m"),
        ("$__range", "1h"),
        ("$instance", ".*"),
    ):
        dashboard_expr = dashboard_expr.replace(variable, value)
    assert "$" not in dashboard_expr, f"unknown variable in {dashboard_expr!r}"
    return dashboard_expr


def duration_seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"(\d+)(ms|[smhdwy])", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"not a duration: {text!r}"
    return sum(int(number) * units[unit] for number, unit in parts)


# -- promtool ----------------------------------------------------------------------------


def promtool_binary() -> str:
    """The promtool to run; skips the test (or fails it, when services are required)
    without one. Called in the test, not a fixture, so that it reports FAILED, not ERROR."""
    named = os.environ.get("VIDEOPLATFORM_TEST_PROMTOOL")
    found = named or shutil.which("promtool")
    if found is None:
        reason = (
            "promtool is not installed (Debian package prometheus; or set "
            "VIDEOPLATFORM_TEST_PROMTOOL to a binary)"
        )
        if services_required():
            pytest.fail(f"promtool is required ({REQUIRE_SERVICES_ENV}=1): {reason}")
        pytest.skip(reason)
    return found


def run_promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool_binary(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=PROMTOOL_TIMEOUT_S,
        check=False,
    )


def test_alert_rules_pass_promtool_check() -> None:
    done = run_promtool("check", "rules", ALERTS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in done.stdout


def test_alerts_fire_on_outages_and_stay_quiet_on_healthy_series() -> None:
    # rule_files in the test file are relative to it: it runs where it is, as shipped.
    done = run_promtool("test", "rules", ALERTS_TEST)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_example_configuration_passes_promtool_with_its_token_file(
    tmp_path: Path,
) -> None:
    # As installed: the configuration, the rules and the token file in one directory.
    for shipped in (CONFIG, ALERTS):
        shutil.copy(shipped, tmp_path / shipped.name)
    installed = tmp_path / CONFIG.name
    token_file = api_job(load_yaml(CONFIG))["authorization"]["credentials_file"]

    without_token = run_promtool("check", "config", installed)
    assert without_token.returncode != 0, "the configuration should need its token file"
    assert token_file in without_token.stdout + without_token.stderr

    (tmp_path / token_file).write_text(METRICS_TOKEN + "\n")
    done = run_promtool("check", "config", installed)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in done.stdout  # alerts.yml loaded


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    # promtool has no "check this expression": each query becomes a recording rule.
    queries = dashboard_queries()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{n}", "expr": as_prometheus_expression(expr)}
                    for n, expr in enumerate(queries.values())
                ],
            }
        ]
    }
    checked = tmp_path / "dashboard_rules.yml"
    checked.write_text(yaml.safe_dump(rules), encoding="utf-8")
    done = run_promtool("check", "rules", checked)
    assert done.returncode == 0, f"{done.stdout}{done.stderr}\nqueries: {queries}"
    assert f"SUCCESS: {len(queries)} rules found" in done.stdout


# -- the alerts --------------------------------------------------------------------------

SHIPPED_ALERTS = {
    "VideoplatformHighErrorRate",
    "VideoplatformHighLatency",
    "VideoplatformProcessingBacklog",
    "VideoplatformProcessingFailures",
    "VideoplatformOutboxStuck",
    "VideoplatformDeadLetters",
    "VideoplatformDependencyDown",
    "VideoplatformDependencyDegraded",
    "VideoplatformCircuitOpen",
    "VideoplatformDataDiskLow",
    "VideoplatformTargetDown",
    "VideoplatformTargetsMissing",
}


def test_the_shipped_alerts_are_all_there() -> None:
    assert {rule.get("alert") for rule in alert_rules()} == SHIPPED_ALERTS


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: str(rule.get("alert")))
def test_each_alert_waits_at_most_2_minutes_and_tells_the_operator_what_to_do(
    rule: dict[str, Any],
) -> None:
    assert duration_seconds(rule["for"]) <= 120
    assert rule["labels"]["severity"] in {"critical", "warning"}
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert len(annotations["description"].split()) >= 20, "a description says what to do"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: str(rule.get("alert")))
def test_each_alert_reads_only_contract_metrics(
    rule: dict[str, Any], api_routes: frozenset[str]
) -> None:
    assert contract_problems(rule["expr"], api_routes) == []


def test_each_alert_has_a_unit_test_where_it_fires_and_one_where_it_stays_quiet() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in load_yaml(ALERTS_TEST)["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert fires >= SHIPPED_ALERTS, f"never seen firing: {SHIPPED_ALERTS - fires}"
    assert quiet >= SHIPPED_ALERTS, f"never seen quiet: {SHIPPED_ALERTS - quiet}"


def test_the_unit_tests_feed_only_contract_series_on_real_routes(
    api_routes: frozenset[str],
) -> None:
    problems = {
        series["series"]: contract_problems(series["series"], api_routes)
        for case in load_yaml(ALERTS_TEST)["tests"]
        for series in case["input_series"]
    }
    assert {series: found for series, found in problems.items() if found} == {}


# -- the example configuration -----------------------------------------------------------


def test_example_configuration_scrapes_with_a_token_file_and_loads_the_alerts() -> None:
    config = load_yaml(CONFIG)
    assert ALERTS.name in config["rule_files"]
    api = api_job(config)  # the alerts' up{job="videoplatform"} and the dashboard need it
    assert api["metrics_path"] == "/metrics"
    authorization = api["authorization"]
    assert authorization.get("type", "Bearer") == "Bearer"
    # Relative: resolved against the configuration's directory, wherever it is installed.
    assert not Path(authorization["credentials_file"]).is_absolute()
    assert "credentials" not in authorization, "the token belongs in a file, not here"


# -- the dashboard -----------------------------------------------------------------------


def test_dashboard_is_valid_json_with_a_prometheus_datasource_variable() -> None:
    board = dashboard()
    assert 36 <= board["schemaVersion"] <= 41
    assert board["uid"] and board["title"]
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


def test_every_dashboard_panel_queries_the_chosen_datasource() -> None:
    chosen = {"type": "prometheus", "uid": "${datasource}"}
    panels = list(dashboard_panels())
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == chosen, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == chosen, panel["title"]
            assert target["expr"].strip(), panel["title"]


def test_dashboard_panels_fit_the_grid_without_overlapping() -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']} overlaps {taken[(x, y)]}"
                taken[(x, y)] = panel["title"]


def test_dashboard_reads_only_contract_metrics(api_routes: frozenset[str]) -> None:
    problems = {
        where: contract_problems(expr, api_routes) for where, expr in dashboard_queries().items()
    }
    assert {where: found for where, found in problems.items() if found} == {}


def test_dashboard_shows_every_signal_of_the_contract() -> None:
    used = {
        selector.name
        for expr in dashboard_queries().values()
        for selector in read_query(expr).selectors
    }
    shown = {
        name
        for name, family in CONTRACT.items()
        if (name + "_bucket" if family.kind == "histogram" else name) in used
    }
    assert shown == set(CONTRACT), f"no panel for {set(CONTRACT) - shown}"
    assert "up" in used


# -- the reader itself -------------------------------------------------------------------


def test_the_query_reader_finds_names_labels_and_groupings() -> None:
    query = read_query(
        'histogram_quantile(0.95, sum by (le, job) (rate(a_bucket{route!="/x/{id}/y",'
        ' method=~"GET|HEAD"}[$__rate_interval]) unless on (job) group_left (instance)'
        " b offset 5m)) > bool 0.2 and absent(up{job='videoplatform'})"
    )
    assert query.selectors == (
        Selector(
            "a_bucket", (Matcher("route", "!=", "/x/{id}/y"), Matcher("method", "=~", "GET|HEAD"))
        ),
        Selector("b", ()),
        Selector("up", (Matcher("job", "=", "videoplatform"),)),
    )
    assert query.grouping == {"le", "job", "instance"}


def test_contract_problems_are_reported() -> None:
    routes = frozenset({"/api/v1/videos"})
    assert contract_problems("sum by (job) (rate(videoplatform_uploads_total[5m]))", routes) == []
    assert contract_problems(
        'sum by (endpoint) (videoplatform_http_request_total{route="/api/v1/video"})'
        ' + videoplatform_videos{status="uploading", state="x"}'
        ' + videoplatform_http_requests_total{route=~"/api/v1/videos|/api/v2/.+"}'
        ' + {__name__="videoplatform_videos"}',
        routes,
    ) == [
        "series 'videoplatform_http_request_total' is not in the metrics contract",
        "videoplatform_videos: status is never 'uploading'",
        "videoplatform_videos has no label 'state'",
        "videoplatform_http_requests_total: '/api/v2/.+' of route=~'/api/v1/videos|/api/v2/.+'"
        " matches none of ['/api/v1/videos', '/metrics', 'unmatched']",
        "series None is not in the metrics contract",
        "no series of the contract has the label 'endpoint'",
    ]


# -- the contract against the platform -----------------------------------------------------


@pytest.fixture(scope="module")
def api_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The HTTP app of an in-memory platform, with /metrics on."""
    settings = Settings.in_memory(
        metrics_token=METRICS_TOKEN, data_dir=str(tmp_path_factory.mktemp("data"))
    )
    with create_platform(settings) as platform:
        yield create_app(platform)


@pytest.fixture(scope="module")
def api(api_app: App) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(api_app)


@pytest.fixture(scope="module")
def api_routes(api: falcon.testing.TestClient) -> frozenset[str]:
    """The API's route templates, from its OpenAPI document."""
    document = api.simulate_get("/api/v1/openapi.json")
    assert document.status_code == 200, document.text
    return frozenset(document.json["paths"])


def test_the_platform_exposes_the_contract(api: falcon.testing.TestClient) -> None:
    api.simulate_get("/api/v1/videos")  # an answer, so that its labels show
    scrape = api.simulate_get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scrape.status_code == 200, scrape.text
    exposed = {
        family.name: (family.type, {label for s in family.samples for label in s.labels})
        for family in text_string_to_metric_families(scrape.text)
    }
    for name, family in CONTRACT.items():
        base = name.removesuffix("_total") if family.kind == "counter" else name
        assert base in exposed, f"/metrics has no {name}"
        kind, labels = exposed[base]
        assert kind == family.kind, f"{name} is a {kind}"
        # A labelled metric shows its labels once something was counted.
        assert labels - {"le"} <= set(family.labels), f"{name} has labels {sorted(labels)}"


# -- a real Prometheus with the example configuration ------------------------------------


def prometheus_binary() -> str:
    """The Prometheus server to run; skips (or fails, when services are required)."""
    named = os.environ.get("VIDEOPLATFORM_TEST_PROMETHEUS")
    found = named or shutil.which("prometheus")
    if found is None:
        reason = (
            "prometheus is not installed (Debian package prometheus; or set "
            "VIDEOPLATFORM_TEST_PROMETHEUS to a binary)"
        )
        if services_required():
            pytest.fail(f"prometheus is required ({REQUIRE_SERVICES_ENV}=1): {reason}")
        pytest.skip(reason)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(app: App) -> Iterator[str]:
    """``app`` on a loopback port, in a thread; yields its host:port."""
    server = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def installed_config(folder: Path, target: str) -> Path:
    """The shipped configuration, installed in ``folder`` as the README says (rules and
    token file beside it), with this test's target and a scrape every second."""
    config = load_yaml(CONFIG)
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    del config["alerting"]  # no Alertmanager here
    job = api_job(config)
    job["static_configs"] = [{"targets": [target]}]
    shutil.copy(ALERTS, folder / ALERTS.name)
    (folder / job["authorization"]["credentials_file"]).write_text(METRICS_TOKEN + "\n")
    installed = folder / CONFIG.name
    installed.write_text(yaml.safe_dump(config), encoding="utf-8")
    return installed


def test_prometheus_scrapes_a_node_with_the_example_configuration(
    api_app: App, tmp_path: Path
) -> None:
    binary = prometheus_binary()
    with serving(api_app) as target:
        # Chosen once the node listens, so that the two cannot draw the same port.
        web = f"127.0.0.1:{free_port()}"
        config = installed_config(tmp_path, target)
        log_path = tmp_path / "prometheus.log"
        with log_path.open("w") as log:
            server = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address={web}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            prometheus = Prometheus(server, web, log_path)
            prometheus.wait_for(f'up{{job="{JOB}"}} == 1')  # scraped with the token file
            prometheus.wait_for('videoplatform_dependency_up{dependency="database"} == 1')
            answer = httpx.get(f"http://{web}/api/v1/rules", timeout=5).json()
            loaded = {rule["name"] for group in answer["data"]["groups"] for rule in group["rules"]}
            assert loaded == SHIPPED_ALERTS
        finally:
            server.terminate()
            server.wait(timeout=30)


@dataclass(frozen=True)
class Prometheus:
    process: subprocess.Popen[bytes]
    web: str
    log: Path

    def wait_for(self, query: str, timeout: float = 30) -> None:
        """Until ``query`` has a result; fails with what went wrong after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"prometheus exited: {self.log.read_text()}"
            # Starting up, Prometheus answers 503 in plain text ("not ready") for a while.
            with contextlib.suppress(httpx.HTTPError, ValueError):
                answer = httpx.get(self._api("query"), params={"query": query}, timeout=5)
                if answer.status_code == 200 and answer.json()["data"]["result"]:
                    return
            time.sleep(0.25)
        targets = httpx.get(self._api("targets"), timeout=5).json()["data"]["activeTargets"]
        errors = [target.get("lastError") for target in targets]
        raise AssertionError(f"no result for {query} in {timeout} s; scrape errors: {errors}")

    def _api(self, path: str) -> str:
        return f"http://{self.web}/api/v1/{path}"
