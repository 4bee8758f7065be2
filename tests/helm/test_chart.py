"""The Helm chart (helm/dr-failover): lint, render, and what the rendered
manifests must say.

Every ci/*-values.yaml overlay is linted with `helm lint --strict` and
rendered with `helm template`; the rendered objects are parsed and checked:
the actuator is one replica with Recreate, secrets are mounted as files and
never inlined, the PrometheusRule carries the rule groups of alerts/, the
rendered configuration passes the daemons' own --check-config.

helm comes from scripts/setup.sh (node_modules/.bin/helm) or $DRF_HELM; the
test fails, not skips, without it.
"""

import base64
import copy
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "dr-failover"
BUILD = pathlib.Path(os.environ.get("DRF_BUILD_DIR") or REPO / "build")
HELM = os.environ.get("DRF_HELM") or str(REPO / "node_modules/.bin/helm")
RELEASE, NAMESPACE = "dr", "dr-system"
OVERLAYS = sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))

# The settings the chart owns in the configuration file (paths of the
# mounted secrets, the state volume): never values.
CHART_OWNED = {("dns", "token_file"), ("actuator", "state_dir"),
               ("actuator", "webhook_token_file"),
               ("actuator", "api_token_file"),
               ("actuator", "ssh", "private_key_file"),
               ("actuator", "ssh", "known_hosts_file")}


def helm(*args, chart=CHART, check=True):
    """Runs helm on the chart; returns the CompletedProcess."""
    proc = subprocess.run([HELM, *args], cwd=chart, capture_output=True,
                          text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def render(*values_files, sets=(), chart=CHART, show_only=None):
    """`helm template` → list of objects (dicts), empty documents dropped."""
    args = ["template", RELEASE, ".", "--namespace", NAMESPACE]
    for f in values_files:
        args += ["-f", str(f)]
    for s in sets:
        args += ["--set", s]
    if show_only:
        args += ["--show-only", show_only]
    out = helm(*args, chart=chart).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def validate_k8s(manifests):
    """tests/helm/validate_k8s.mjs on `manifests` (YAML text)."""
    return subprocess.run(["node", str(pathlib.Path(__file__).parent /
                                       "validate_k8s.mjs")],
                          input=manifests, capture_output=True, text=True,
                          timeout=120)


def overlay(name):
    return CHART / "ci" / name


def load_overlay(name):
    return yaml.safe_load(overlay(name).read_text()) or {}


def find(objs, kind, name_suffix=None):
    """The objects of a kind (whose name ends with name_suffix, if given)."""
    return [o for o in objs if o["kind"] == kind and
            (name_suffix is None or o["metadata"]["name"].endswith(name_suffix))]


def one(objs, kind, name_suffix=None):
    found = find(objs, kind, name_suffix)
    if len(found) != 1:
        raise AssertionError(
            f"expected one {kind} *{name_suffix or ''}, got "
            f"{[o['metadata']['name'] for o in found]}")
    return found[0]


def rendered_config(objs):
    """The configuration file the chart renders (parsed)."""
    cms = [o for o in find(objs, "ConfigMap") if "config.yml" in o.get("data", {})]
    assert len(cms) == 1, cms
    return yaml.safe_load(cms[0]["data"]["config.yml"])


def given_secret_values(values):
    """{values key: secret value} of the secrets an overlay gives as values."""
    return {k: s["value"] for k, s in values.get("secrets", {}).items()
            if s.get("value")}


def expected_rules(preferred_site, namespace):
    """The rule groups of alerts/ with the chart's two documented changes."""
    rules = yaml.safe_load((REPO / "alerts/dr-failover.rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("record") == "dr:preferred_site":
                rule["labels"]["site"] = preferred_site
            if "alert" in rule:
                rule.setdefault("labels", {})["namespace"] = namespace
    return rules["groups"]


class HelmAvailable(unittest.TestCase):
    def test_helm_runs(self):
        self.assertTrue(shutil.which(HELM) or os.access(HELM, os.X_OK),
                        f"helm not found at {HELM}: run scripts/setup.sh")
        self.assertIn("v3.", helm("version", "--short").stdout)

    def test_there_are_four_overlays(self):
        self.assertEqual(OVERLAYS, ["default-values.yaml",
                                    "existing-secrets-values.yaml",
                                    "exporter-only-values.yaml",
                                    "operator-values.yaml"])


class EveryOverlay(unittest.TestCase):
    """What must hold for every ci/ overlay."""

    @classmethod
    def setUpClass(cls):
        cls.rendered = {name: render(overlay(name)) for name in OVERLAYS}

    def test_lint_strict(self):
        for name in OVERLAYS:
            with self.subTest(overlay=name):
                proc = helm("lint", "--strict", ".", "-f", str(overlay(name)),
                            check=False)
                self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
                self.assertIn("0 chart(s) failed", proc.stdout)

    def test_objects_match_the_kubernetes_and_operator_schemas(self):
        for name in OVERLAYS:
            with self.subTest(overlay=name):
                proc = validate_k8s(helm("template", RELEASE, ".", "-f",
                                         str(overlay(name))).stdout)
                self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
                self.assertEqual(proc.stdout.strip().splitlines()[-1],
                                 f"{len(self.rendered[name])} objects, "
                                 "0 invalid")

    def test_the_schema_check_refuses_a_broken_object(self):
        text = helm("template", RELEASE, ".", "-f",
                    str(overlay("operator-values.yaml"))).stdout
        for good, bad, named in (
                ("groupWait: 0s", "groupWait: soon", "AlertmanagerConfig"),
                ("type: Recreate", "type: Replace", "Deployment"),
                ("kind: ServiceMonitor", "kind: ServiceMonitr", "no schema")):
            with self.subTest(bad=bad):
                self.assertIn(good, text)
                proc = validate_k8s(text.replace(good, bad, 1))
                self.assertEqual(proc.returncode, 1, proc.stdout)
                self.assertIn(named, proc.stdout)

    def test_rendered_config_passes_the_daemons_check(self):
        for name, objs in self.rendered.items():
            for daemon in ("exporter/dr-exporter", "actuator/dr-actuator"):
                with self.subTest(overlay=name, daemon=daemon), \
                        tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
                    yaml.safe_dump(rendered_config(objs), f)
                    f.flush()
                    proc = subprocess.run(
                        [str(BUILD / daemon), "--check-config",
                         "--config.file", f.name],
                        capture_output=True, text=True, timeout=30)
                    self.assertEqual(proc.returncode, 0,
                                     proc.stdout + proc.stderr)

    def test_config_is_the_values_plus_the_chart_owned_paths(self):
        defaults = yaml.safe_load((CHART / "values.yaml").read_text())
        for name, objs in self.rendered.items():
            with self.subTest(overlay=name):
                values = load_overlay(name)
                config = rendered_config(objs)
                self.assertEqual(config["dns"]["token_file"],
                                 "/etc/dr-failover/secrets/linode-token")
                if values.get("actuator", {}).get("enabled", True):
                    a = config["actuator"]
                    self.assertEqual(a["state_dir"], "/var/lib/dr-actuator")
                    self.assertEqual(a["webhook_token_file"],
                                     "/etc/dr-failover/secrets/webhook-token")
                    self.assertEqual(a["api_token_file"],
                                     "/etc/dr-failover/secrets/api-token")
                    self.assertEqual(a["ssh"]["private_key_file"],
                                     "/etc/dr-failover/secrets/ssh-private-key")
                    self.assertEqual(a["ssh"]["known_hosts_file"],
                                     "/etc/dr-failover/secrets/known-hosts")
                # Without the chart-owned keys, the file is the values.
                stripped = copy.deepcopy(config)
                for path in CHART_OWNED:
                    node = stripped
                    for key in path[:-1]:
                        node = node.get(key, {})
                    node.pop(path[-1], None)
                expected = copy.deepcopy(defaults["config"])
                merge(expected, values.get("config", {}))
                self.assertEqual(stripped, expected)

    def test_secrets_are_mounted_files_never_inlined(self):
        for name, objs in self.rendered.items():
            with self.subTest(overlay=name):
                values = load_overlay(name)
                secrets = given_secret_values(values)
                extra_env = {e["name"] for c in ("exporter", "actuator")
                             for e in values.get(c, {}).get("extraEnv", [])}
                non_secret = [o for o in objs if o["kind"] != "Secret"]
                text = yaml.safe_dump_all(non_secret)
                for key, value in secrets.items():
                    self.assertNotIn(value.strip(), text, key)
                    self.assertNotIn(base64.b64encode(value.encode()).decode(),
                                     text, key)
                for deploy in find(objs, "Deployment"):
                    spec = deploy["spec"]["template"]["spec"]
                    container = spec["containers"][0]
                    mounts = {m["name"]: m for m in container["volumeMounts"]}
                    self.assertEqual(mounts["secrets"]["mountPath"],
                                     "/etc/dr-failover/secrets")
                    self.assertTrue(mounts["secrets"]["readOnly"])
                    volume = [v for v in spec["volumes"]
                              if v["name"] == "secrets"][0]
                    self.assertEqual(volume["projected"]["defaultMode"], 0o440)
                    # Every environment variable the chart sets is a file
                    # path, not a value.
                    for env in container.get("env", []):
                        if env["name"] in extra_env:
                            continue
                        self.assertTrue(env["name"].endswith("_FILE"), env)
                        self.assertTrue(env["value"].startswith(
                            "/etc/dr-failover/secrets/"), env)

    def test_each_daemon_mounts_exactly_the_secrets_it_reads(self):
        for name, objs in self.rendered.items():
            config = rendered_config(objs)
            for deploy in find(objs, "Deployment"):
                with self.subTest(overlay=name,
                                  deployment=deploy["metadata"]["name"]):
                    spec = deploy["spec"]["template"]["spec"]
                    volume = [v for v in spec["volumes"]
                              if v["name"] == "secrets"][0]
                    files = {"/etc/dr-failover/secrets/" + item["path"]
                             for src in volume["projected"]["sources"]
                             for item in src["secret"]["items"]}
                    container = spec["containers"][0]
                    needed = {config["dns"]["token_file"]}
                    if container["name"] == "dr-actuator":
                        a = config["actuator"]
                        needed |= {a["webhook_token_file"], a["api_token_file"],
                                   a["ssh"]["private_key_file"],
                                   a["ssh"]["known_hosts_file"]}
                    else:
                        needed |= {e["value"] for e in container.get("env", [])
                                   if e["name"].endswith("_FILE")}
                        self.assertIn("AWS_ACCESS_KEY_ID_FILE",
                                      {e["name"] for e in container["env"]})
                    self.assertEqual(files, needed)

    def test_actuator_is_one_replica_recreated_and_keeps_its_state(self):
        for name, objs in self.rendered.items():
            actuators = find(objs, "Deployment", "-actuator")
            with self.subTest(overlay=name):
                if name == "exporter-only-values.yaml":
                    self.assertEqual(actuators, [])
                    continue
                spec = one(objs, "Deployment", "-actuator")["spec"]
                self.assertEqual(spec["replicas"], 1)
                self.assertEqual(spec["strategy"], {"type": "Recreate"})
                pod = spec["template"]["spec"]
                mounts = {m["name"]: m["mountPath"]
                          for m in pod["containers"][0]["volumeMounts"]}
                self.assertEqual(mounts["state"], "/var/lib/dr-actuator")
                state = [v for v in pod["volumes"] if v["name"] == "state"][0]
                claim = state["persistentVolumeClaim"]["claimName"]
                claims = [o["metadata"]["name"]
                          for o in find(objs, "PersistentVolumeClaim")]
                if name == "existing-secrets-values.yaml":
                    self.assertEqual(claim, "dr-actuator-state")
                    self.assertEqual(claims, [])
                else:
                    self.assertEqual(claims, [claim])

    def test_locked_down_security_context_and_probes(self):
        for name, objs in self.rendered.items():
            for deploy in find(objs, "Deployment"):
                with self.subTest(overlay=name,
                                  deployment=deploy["metadata"]["name"]):
                    pod = deploy["spec"]["template"]["spec"]
                    self.assertTrue(pod["securityContext"]["runAsNonRoot"])
                    self.assertNotEqual(pod["securityContext"]["runAsUser"], 0)
                    self.assertFalse(pod["automountServiceAccountToken"])
                    (c,) = pod["containers"]
                    sc = c["securityContext"]
                    self.assertTrue(sc["readOnlyRootFilesystem"])
                    self.assertFalse(sc["allowPrivilegeEscalation"])
                    self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
                    self.assertNotIn("add", sc["capabilities"])
                    self.assertEqual(c["livenessProbe"]["httpGet"]["path"],
                                     "/-/healthy")
                    self.assertEqual(c["readinessProbe"]["httpGet"]["path"],
                                     "/-/ready")
                    self.assertIn("limits", c["resources"])
                    self.assertIn("requests", c["resources"])
                    annotations = deploy["spec"]["template"]["metadata"][
                        "annotations"]
                    self.assertRegex(annotations["checksum/config"],
                                     "^[0-9a-f]{64}$")

    def test_services_select_their_pods(self):
        for name, objs in self.rendered.items():
            for deploy in find(objs, "Deployment"):
                with self.subTest(overlay=name,
                                  deployment=deploy["metadata"]["name"]):
                    service = one(objs, "Service", deploy["metadata"]["name"])
                    labels = deploy["spec"]["template"]["metadata"]["labels"]
                    for k, v in service["spec"]["selector"].items():
                        self.assertEqual(labels.get(k), v)
                    port = deploy["spec"]["template"]["spec"]["containers"][0][
                        "ports"][0]
                    self.assertEqual(service["spec"]["ports"][0]["targetPort"],
                                     port["name"])

    def test_notes_render(self):
        with tempfile.TemporaryDirectory() as tmp:
            chart = pathlib.Path(tmp) / "dr-failover"
            shutil.copytree(CHART, chart, symlinks=False)
            notes = (chart / "templates/NOTES.txt").read_text()
            (chart / "templates/_notes.tpl").write_text(
                '{{- define "test.notes" -}}' + notes + "{{- end }}")
            (chart / "templates/notes.yaml").write_text(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n"
                'data:\n  notes: |\n{{ include "test.notes" . | indent 4 }}\n')
            for name in OVERLAYS:
                with self.subTest(overlay=name):
                    (cm,) = render(overlay(name), chart=chart,
                                   show_only="templates/notes.yaml")
                    text = cm["data"]["notes"]
                    self.assertIn(f"installed as release {RELEASE}", text)
                    if name == "exporter-only-values.yaml":
                        self.assertNotIn("dr-actuator", text)
                    else:
                        self.assertIn("/api/v1/alertmanager", text)


def merge(into, overlay_values):
    """Helm's merge of values: maps merge, everything else replaces."""
    for k, v in overlay_values.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        else:
            into[k] = copy.deepcopy(v)


class OperatorObjects(unittest.TestCase):
    """ServiceMonitor, PrometheusRule, AlertmanagerConfig, dashboard."""

    @classmethod
    def setUpClass(cls):
        cls.objs = render(overlay("operator-values.yaml"))
        cls.values = load_overlay("operator-values.yaml")

    def test_off_by_default(self):
        objs = render(overlay("default-values.yaml"))
        kinds = {o["kind"] for o in objs}
        self.assertFalse(kinds & {"ServiceMonitor", "PrometheusRule",
                                  "AlertmanagerConfig"})
        self.assertEqual([o for o in find(objs, "ConfigMap")
                          if "dr-failover.json" in o.get("data", {})], [])

    def test_prometheus_rule_is_the_rule_file_of_alerts(self):
        preferred = self.values["config"]["sites"][0]["name"]
        self.assertNotEqual(preferred, "us-east")  # the file's own value
        rule = one(self.objs, "PrometheusRule")
        self.assertEqual(rule["metadata"]["labels"]["release"],
                         "kube-prometheus-stack")
        self.assertEqual(rule["spec"]["groups"],
                         expected_rules(preferred, NAMESPACE))

    def test_prometheus_rule_groups_pass_promtool(self):
        groups = one(self.objs, "PrometheusRule")["spec"]["groups"]
        with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
            yaml.safe_dump({"groups": groups}, f)
            f.flush()
            proc = subprocess.run(["promtool", "check", "rules", f.name],
                                  capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, r"SUCCESS: [1-9][0-9]* rules found")

    def test_chart_files_are_the_files_of_alerts_and_dashboards(self):
        # One source of truth: the chart's files/ are links to (or, after a
        # copy, identical to) the rule file and the dashboard.
        for chart_file, source in (
                ("files/dr-failover.rules.yml", "alerts/dr-failover.rules.yml"),
                ("files/dr-failover.json", "dashboards/dr-failover.json")):
            with self.subTest(file=chart_file):
                self.assertEqual((CHART / chart_file).read_bytes(),
                                 (REPO / source).read_bytes())

    def test_packaged_chart_carries_the_same_rules(self):
        with tempfile.TemporaryDirectory() as tmp:
            helm("package", ".", "--destination", tmp)
            (tgz,) = pathlib.Path(tmp).glob("dr-failover-*.tgz")
            out = subprocess.run(
                [HELM, "template", RELEASE, str(tgz), "--namespace", NAMESPACE,
                 "-f", str(overlay("operator-values.yaml"))],
                capture_output=True, text=True, timeout=120, check=True).stdout
        objs = [d for d in yaml.safe_load_all(out) if d]
        preferred = self.values["config"]["sites"][0]["name"]
        self.assertEqual(one(objs, "PrometheusRule")["spec"]["groups"],
                         expected_rules(preferred, NAMESPACE))

    def test_service_monitors_scrape_as_the_rules_expect(self):
        monitors = find(self.objs, "ServiceMonitor")
        self.assertEqual(len(monitors), 2)
        for component, interval in (("exporter", "1s"), ("actuator", "5s")):
            with self.subTest(component=component):
                sm = one(self.objs, "ServiceMonitor", "-" + component)
                (endpoint,) = sm["spec"]["endpoints"]
                self.assertEqual(endpoint["path"], "/metrics")
                self.assertEqual(endpoint["interval"], interval)
                self.assertIn({"targetLabel": "job",
                               "replacement": "dr-" + component},
                              endpoint["relabelings"])
                service = one(self.objs, "Service", "-" + component)
                for k, v in sm["spec"]["selector"]["matchLabels"].items():
                    self.assertEqual(service["metadata"]["labels"].get(k), v)
                self.assertEqual(endpoint["port"],
                                 service["spec"]["ports"][0]["name"])
                self.assertEqual(sm["spec"]["namespaceSelector"]["matchNames"],
                                 [NAMESPACE])

    def test_alertmanager_config_routes_dr_action_to_the_webhook(self):
        amc = one(self.objs, "AlertmanagerConfig")
        route = amc["spec"]["route"]
        self.assertEqual(route["matchers"], [{"name": "dr_action",
                                              "matchType": "=",
                                              "value": "traffic_failover"}])
        self.assertEqual(route["groupWait"], "0s")
        self.assertTrue(route["continue"])
        (receiver,) = amc["spec"]["receivers"]
        self.assertEqual(receiver["name"], route["receiver"])
        (hook,) = receiver["webhookConfigs"]
        service = one(self.objs, "Service", "-actuator")
        self.assertEqual(
            hook["url"],
            f"http://{service['metadata']['name']}.{NAMESPACE}.svc:"
            f"{service['spec']['ports'][0]['port']}/api/v1/alertmanager")
        self.assertTrue(hook["sendResolved"])
        credentials = hook["httpConfig"]["authorization"]["credentials"]
        secret = one(self.objs, "Secret")
        self.assertEqual(credentials["name"], secret["metadata"]["name"])
        self.assertEqual(
            base64.b64decode(secret["data"][credentials["key"]]).decode(),
            self.values["secrets"]["webhookToken"]["value"])
        # The rules label every alert with the namespace the operator's
        # AlertmanagerConfig matcher requires.
        rule = one(self.objs, "PrometheusRule")
        site_down = [r for g in rule["spec"]["groups"] for r in g["rules"]
                     if r.get("alert") == "DRSiteDown"]
        self.assertEqual(site_down[0]["labels"]["namespace"], NAMESPACE)
        self.assertEqual(site_down[0]["labels"]["dr_action"],
                         "traffic_failover")

    def test_extra_env_reaches_the_container_after_the_chart_env(self):
        container = one(self.objs, "Deployment", "-exporter")["spec"][
            "template"]["spec"]["containers"][0]
        names = [e["name"] for e in container["env"]]
        self.assertEqual(names[-2:], ["HTTPS_PROXY", "NO_PROXY"])
        self.assertIn("AWS_SESSION_TOKEN_FILE", names)

    def test_exporters_read_dns_with_their_own_token(self):
        secret = one(self.objs, "Secret")
        tokens = {}
        for component in ("exporter", "actuator"):
            spec = one(self.objs, "Deployment", "-" + component)["spec"][
                "template"]["spec"]
            volume = [v for v in spec["volumes"] if v["name"] == "secrets"][0]
            (key,) = [item["key"] for src in volume["projected"]["sources"]
                      for item in src["secret"]["items"]
                      if item["path"] == "linode-token"]
            tokens[component] = base64.b64decode(secret["data"][key]).decode()
        self.assertEqual(tokens, {
            "exporter": self.values["secrets"]["exporterLinodeToken"]["value"],
            "actuator": self.values["secrets"]["linodeToken"]["value"]})

    def test_dashboard_config_map_for_the_grafana_sidecar(self):
        (cm,) = [o for o in find(self.objs, "ConfigMap")
                 if "dr-failover.json" in o.get("data", {})]
        self.assertEqual(cm["metadata"]["labels"]["grafana_dashboard"], "1")
        self.assertEqual(cm["metadata"]["annotations"]["grafana_folder"], "DR")
        self.assertEqual(
            json.loads(cm["data"]["dr-failover.json"]),
            json.loads((REPO / "dashboards/dr-failover.json").read_text()))


class Secrets(unittest.TestCase):
    def test_existing_secrets_render_no_secret_and_use_their_keys(self):
        objs = render(overlay("existing-secrets-values.yaml"))
        values = load_overlay("existing-secrets-values.yaml")["secrets"]
        self.assertEqual(find(objs, "Secret"), [])
        sources = {}
        for deploy in find(objs, "Deployment"):
            volume = [v for v in deploy["spec"]["template"]["spec"]["volumes"]
                      if v["name"] == "secrets"][0]
            paths = [item["path"] for src in volume["projected"]["sources"]
                     for item in src["secret"]["items"]]
            # Two keys of the same existing Secret are two distinct files.
            self.assertEqual(len(set(paths)), len(paths), paths)
            for src in volume["projected"]["sources"]:
                for item in src["secret"]["items"]:
                    sources[(src["secret"]["name"], item["key"])] = item["path"]
        for key, s in values.items():
            with self.subTest(secret=key):
                self.assertIn((s["existingSecret"], s["key"]), sources)
        amc = one(objs, "AlertmanagerConfig")
        credentials = amc["spec"]["receivers"][0]["webhookConfigs"][0][
            "httpConfig"]["authorization"]["credentials"]
        self.assertEqual(credentials, {"name": "dr-tokens", "key": "webhook"})

    def test_chart_secret_holds_exactly_the_given_values(self):
        objs = render(overlay("default-values.yaml"))
        secret = one(objs, "Secret")
        given = given_secret_values(load_overlay("default-values.yaml"))
        decoded = {k: base64.b64decode(v).decode()
                   for k, v in secret["data"].items()}
        self.assertEqual(sorted(decoded.values()), sorted(given.values()))

    def test_a_missing_needed_secret_is_refused_by_name(self):
        for missing in ("linodeToken", "sshPrivateKey", "webhookToken",
                        "awsSecretAccessKey"):
            with self.subTest(missing=missing):
                proc = helm("template", RELEASE, ".", "-f",
                            str(overlay("default-values.yaml")),
                            "--set", f"secrets.{missing}.value=", check=False)
                self.assertNotEqual(proc.returncode, 0)
                self.assertIn(f"secrets.{missing}: set secrets.{missing}.value "
                              f"or secrets.{missing}.existingSecret",
                              proc.stderr)

    def test_exporter_only_needs_no_actuator_secret(self):
        # Not even the read-write Linode token: its own read-only one.
        objs = render(overlay("exporter-only-values.yaml"))
        self.assertEqual({o["metadata"]["name"] for o in
                          find(objs, "Deployment")}, {"dr-dr-failover-exporter"})
        self.assertEqual(find(objs, "AlertmanagerConfig"), [])
        self.assertEqual(find(objs, "PersistentVolumeClaim"), [])
        # The AWS keys still are needed: the exporter reads DynamoDB.
        proc = helm("template", RELEASE, ".", "-f",
                    str(overlay("exporter-only-values.yaml")),
                    "--set", "secrets.awsAccessKeyId.value=", check=False)
        self.assertIn("secrets.awsAccessKeyId", proc.stderr)

    def test_value_and_existing_secret_together_are_refused(self):
        proc = helm("template", RELEASE, ".", "-f",
                    str(overlay("default-values.yaml")),
                    "--set", "secrets.apiToken.existingSecret=other",
                    check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("secrets.apiToken: set value or existingSecret, not both",
                      proc.stderr)


class ChecksumAnnotation(unittest.TestCase):
    def checksum(self, *sets):
        objs = render(overlay("default-values.yaml"), sets=sets)
        return {d["metadata"]["name"]: d["spec"]["template"]["metadata"][
            "annotations"]["checksum/config"] for d in find(objs, "Deployment")}

    def test_changes_with_the_config_only(self):
        before = self.checksum()
        self.assertEqual(before, self.checksum())
        self.assertEqual(before, self.checksum("exporter.replicas=3"))
        after = self.checksum("config.probe.interval=3s")
        for name in before:
            self.assertNotEqual(before[name], after[name], name)


class Schema(unittest.TestCase):
    """values.schema.json: described and constrained, and enforced."""

    @classmethod
    def setUpClass(cls):
        cls.schema = json.loads((CHART / "values.schema.json").read_text())

    def walk(self, node, path):
        yield path, node
        for key, child in node.get("properties", {}).items():
            yield from self.walk(child, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            yield from self.walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            yield from self.walk(node["additionalProperties"], f"{path}.*")

    def test_every_value_has_a_description_type_and_bounds(self):
        count = 0
        for path, node in self.walk(self.schema, "values"):
            count += 1
            with self.subTest(value=path):
                self.assertTrue(node.get("description"), "no description")
                self.assertIn(node.get("type"),
                              ("object", "array", "string", "integer",
                               "boolean", "number"))
                t = node["type"]
                if t == "integer":
                    self.assertIn("minimum", node)
                    self.assertIn("maximum", node)
                elif t == "string":
                    self.assertTrue({"enum", "pattern", "maxLength"} & set(node),
                                    "string without enum, pattern or length")
                elif t == "array" and "items" in node:
                    self.assertIn("maxItems", node)
                elif t == "object" and "properties" in node:
                    self.assertIs(node.get("additionalProperties"), False,
                                  "unknown keys must be refused")
        self.assertGreater(count, 150)

    def test_every_default_value_is_in_the_schema(self):
        defaults = yaml.safe_load((CHART / "values.yaml").read_text())

        def check(value, schema, path):
            if isinstance(value, dict) and "properties" in schema:
                for k, v in value.items():
                    self.assertIn(k, schema["properties"], f"{path}.{k}")
                    check(v, schema["properties"][k], f"{path}.{k}")

        check(defaults, self.schema, "values")

    def test_config_schema_accepts_the_spec_example(self):
        # examples/config.yml is the whole SPEC example; without the
        # chart-owned settings it is a valid `config` value.
        config = yaml.safe_load((REPO / "examples/config.yml").read_text())
        for path in CHART_OWNED:
            node = config
            for key in path[:-1]:
                node = node[key]
            del node[path[-1]]
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump({"config": config}, f)
            f.flush()
            proc = helm("lint", "--strict", ".", "-f",
                        str(overlay("default-values.yaml")), "-f", f.name,
                        check=False)
        self.assertEqual(proc.returncode, 0, proc.stdout)

    def test_bad_values_are_refused(self):
        cases = {
            "exporter.replicas=0": "exporter.replicas",
            "config.actuator.mode=sometimes": "config.actuator.mode",
            "config.probe.interval=2 seconds": "config.probe.interval",
            "config.dns.token_file=/tmp/token": "token_file",
            "config.dns.ttl=-1": "config.dns.ttl",
            "securityContext.allowPrivilegeEscalation=true":
                "securityContext.allowPrivilegeEscalation",
            "podSecurityContext.runAsUser=0": "podSecurityContext.runAsUser",
            "image.pullPolicy=Sometimes": "image.pullPolicy",
            "actuator.replicas=2": "replicas",
            "config.sites[1].name=Bad_Name": "config.sites",
        }
        for setting, named in cases.items():
            with self.subTest(setting=setting):
                proc = helm("lint", "--strict", ".", "-f",
                            str(overlay("default-values.yaml")),
                            "--set", setting, check=False)
                self.assertNotEqual(proc.returncode, 0)
                self.assertIn(named, proc.stdout)


class Versions(unittest.TestCase):
    def test_app_version_is_the_project_version(self):
        chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
        cmake = (REPO / "CMakeLists.txt").read_text()
        version = re.search(r"project\(dr-failover VERSION ([0-9.]+)",
                            cmake).group(1)
        self.assertEqual(chart["appVersion"], version)
        objs = render(overlay("default-values.yaml"))
        for deploy in find(objs, "Deployment"):
            image = deploy["spec"]["template"]["spec"]["containers"][0]["image"]
            self.assertTrue(image.endswith(":" + version), image)


if __name__ == "__main__":
    unittest.main()
