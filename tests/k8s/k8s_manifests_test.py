"""The Kubernetes manifests of k8s/ render, validate, and agree with the server.

Offline, run by ctest (k8s_manifests_test, labels unit;python):

  /usr/bin/python3 tests/k8s/k8s_manifests_test.py \
      --server build/server/enlace-server --node-modules build/npm/node_modules

1. `kubectl kustomize` renders k8s/base, k8s/overlays/dev and
   k8s/overlays/production.
2. Every rendered object validates against the Kubernetes API schemas of npm
   kubernetes-models and the cert-manager schemas of
   @kubernetes-models/cert-manager (tests/k8s/validate_manifests.mjs; versions
   pinned in scripts/npm/package-lock.json), at an API version a current
   cluster serves. No npm package carries mariadb-operator's CRD schemas
   (k8s.mariadb.com/v1alpha1), so those objects, in the production overlay
   only, are checked here for what Enlace relies on (Galera on, an odd number
   of nodes, the DSN naming each node, the accounts and Secrets), not against
   the operator's schema.
3. Every --flag (and ENLACE_<FLAG> variable) passed to enlace-server is one
   that `enlace-server --help` lists; every containerPort, probe port,
   Service targetPort and NetworkPolicy port of the server's pods is one its
   --tls_addr, --health_addr or --metrics_addr sets; probes are as the
   deployment needs them (readiness: overall health; liveness and startup:
   enlace.Liveness).
4. The validator rejects deliberately broken objects, so (2) can fail.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VALIDATOR = os.path.join(ROOT, "tests", "k8s", "validate_manifests.mjs")
TREES = {
    "base": os.path.join(ROOT, "k8s", "base"),
    "dev": os.path.join(ROOT, "k8s", "overlays", "dev"),
    "production": os.path.join(ROOT, "k8s", "overlays", "production"),
}
# The API versions a current cluster (1.29 and later) serves for the kinds
# used here, and the CRD groups expected installed (cert-manager's, and
# mariadb-operator's in production only).
SERVED = {
    "v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v2",
    "networking.k8s.io/v1", "cert-manager.io/v1",
}
NO_SCHEMA_GROUP = "k8s.mariadb.com/v1alpha1"
LIVENESS_SERVICE = "enlace.Liveness"
NAMESPACE = "enlace"

ARGS = None  # set in main()


def kubectl():
    path = shutil.which("kubectl") or "/usr/bin/kubectl"
    if not os.access(path, os.X_OK):
        raise AssertionError("kubectl not found (Debian package kubectl; scripts/lib/common.sh installs it)")
    return path


_RENDERED = {}


def render(tree):
    """(text, objects) of `kubectl kustomize` for one of TREES, cached."""
    if tree not in _RENDERED:
        proc = subprocess.run([kubectl(), "kustomize", TREES[tree]], capture_output=True,
                              text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"kubectl kustomize {TREES[tree]} failed: {proc.stderr}")
        objects = [d for d in yaml.safe_load_all(proc.stdout) if d]
        _RENDERED[tree] = (proc.stdout, objects)
    return _RENDERED[tree]


def run_validator(*paths):
    node = shutil.which("node")
    if node is None:
        raise AssertionError("node not found (Debian package nodejs, with npm)")
    models = os.path.join(ARGS.node_modules, "kubernetes-models", "package.json")
    if not os.path.isfile(models):
        raise AssertionError(f"{models} missing: run scripts/test.sh (ensure_npm_tools installs "
                             "scripts/npm/package-lock.json into build/npm)")
    proc = subprocess.run([node, VALIDATOR, ARGS.node_modules, *paths], capture_output=True,
                          text=True, timeout=120, check=False)
    if proc.returncode not in (0, 1):
        raise AssertionError(f"validate_manifests.mjs failed ({proc.returncode}): {proc.stderr}")
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines() if line]


def find(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    return found


def one(objects, kind, name):
    found = find(objects, kind, name)
    if len(found) != 1:
        raise AssertionError(f"expected one {kind} {name}, found {len(found)}")
    return found[0]


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


def pod_labels(obj):
    return obj["spec"]["template"]["metadata"].get("labels", {})


def workloads(objects):
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Job")]


def server_containers(objects):
    """(workload, container) for every container that runs enlace-server."""
    out = []
    for w in workloads(objects):
        for c in pod_spec(w)["containers"]:
            if c["image"].split(":")[0].endswith("enlace-server"):
                out.append((w, c))
    return out


def arg_flags(container):
    """{flag: value or None} of a container's args."""
    flags = {}
    for arg in container.get("args", []) + container.get("command", [])[1:]:
        if not arg.startswith("--"):
            raise AssertionError(f"{container['name']}: argument {arg!r} is not a --flag")
        name, _, value = arg[2:].partition("=")
        flags[name] = value if _ else None
    return flags


def env_value(container, name):
    for e in container.get("env", []):
        if e["name"] == name:
            return e
    return None


def port_of(addr):
    m = re.fullmatch(r"(.*):(\d+)", addr)
    if not m:
        raise AssertionError(f"address {addr!r} has no port")
    return int(m.group(2))


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def expression_matches(expressions, labels):
    for e in expressions:
        value = labels.get(e["key"])
        if e["operator"] == "In" and value not in e["values"]:
            return False
        if e["operator"] == "NotIn" and value in e["values"]:
            return False
        if e["operator"] == "Exists" and e["key"] not in labels:
            return False
        if e["operator"] == "DoesNotExist" and e["key"] in labels:
            return False
    return True


def label_selector_matches(selector, labels):
    """A LabelSelector ({} selects everything) against a set of labels."""
    return (all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())
            and expression_matches(selector.get("matchExpressions", []), labels))


_HELP = None


def server_help():
    """(flag names, help text) of `enlace-server --help`."""
    global _HELP
    if _HELP is None:
        proc = subprocess.run([ARGS.server, "--help"], capture_output=True, text=True, timeout=60,
                              check=False)
        text = proc.stdout + proc.stderr
        flags = set(re.findall(r"^\s+--([a-z0-9_]+) \(", text, flags=re.M))
        if not {"tls_addr", "health_addr", "metrics_addr", "db_dsn"} <= flags:
            raise AssertionError(f"could not read the flags of {ARGS.server} --help:\n{text[:2000]}")
        _HELP = (flags, text)
    return _HELP


class RenderTest(unittest.TestCase):
    def test_every_tree_renders(self):
        for tree in TREES:
            with self.subTest(tree=tree):
                _, objects = render(tree)
                kinds = {o["kind"] for o in objects}
                self.assertTrue({"Namespace", "Deployment", "Job", "Service", "ConfigMap",
                                 "PodDisruptionBudget", "HorizontalPodAutoscaler",
                                 "NetworkPolicy", "Certificate"} <= kinds, kinds)
                for o in objects:
                    if o["kind"] != "Namespace":
                        self.assertEqual(o["metadata"].get("namespace"), NAMESPACE,
                                         f"{o['kind']} {o['metadata']['name']}")

    def test_no_secret_is_in_the_repository(self):
        # Secrets are referenced by name only; none is rendered.
        for tree in TREES:
            with self.subTest(tree=tree):
                self.assertEqual(find(render(tree)[1], "Secret"), [])


class SchemaTest(unittest.TestCase):
    def test_every_object_validates(self):
        with tempfile.TemporaryDirectory() as tmp:
            paths = {}
            for tree in TREES:
                paths[tree] = os.path.join(tmp, f"{tree}.yaml")
                with open(paths[tree], "w", encoding="utf-8") as f:
                    f.write(render(tree)[0])
            rc, results = run_validator(*paths.values())
        by_tree = {tree: [r for r in results if r["file"] == path] for tree, path in paths.items()}
        for tree, rows in by_tree.items():
            with self.subTest(tree=tree):
                self.assertEqual(len(rows), len(render(tree)[1]), "one result per object")
                for r in rows:
                    what = f"{tree}: {r['kind']} {r['name']}"
                    self.assertNotEqual(r["status"], "invalid", f"{what}: {r['errors']}")
                    if r["status"] == "no-schema":
                        self.assertEqual((tree, r["apiVersion"]), ("production", NO_SCHEMA_GROUP),
                                         f"{what}: no schema for {r['apiVersion']}")
                    else:
                        self.assertIn(r["apiVersion"], SERVED, what)
        self.assertEqual(rc, 0)
        # The models did check something: the objects with a schema.
        self.assertGreater(sum(r["status"] == "valid" for r in results), 40)

    def test_validator_rejects_broken_objects(self):
        _, base = render("base")
        deployment = json.loads(json.dumps(one(base, "Deployment", "enlace-server")))
        deployment["spec"]["replicas"] = "two"
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        container["ports"][0]["containerPort"] = "7443"
        certificate = json.loads(json.dumps(one(base, "Certificate", "enlace-tls")))
        del certificate["spec"]["issuerRef"]
        hpa = json.loads(json.dumps(one(base, "HorizontalPodAutoscaler", "enlace-server")))
        hpa["spec"]["metrics"][0]["resource"]["target"]["type"] = 70
        good = one(base, "Service", "enlace-server")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "broken.yaml")
            with open(path, "w", encoding="utf-8") as f:
                yaml.safe_dump_all([deployment, certificate, hpa, good], f)
            rc, results = run_validator(path)
        self.assertEqual(rc, 1)
        self.assertEqual([r["status"] for r in results], ["invalid", "invalid", "invalid", "valid"])
        errors = " ".join(results[0]["errors"])
        self.assertIn("/spec/replicas", errors)
        self.assertIn("containerPort", errors)
        self.assertIn("issuerRef", " ".join(results[1]["errors"]))
        self.assertIn("/spec/metrics/0/resource/target/type", " ".join(results[2]["errors"]))


class ServerAgreementTest(unittest.TestCase):
    """Flags, variables and ports the manifests give enlace-server exist."""

    def containers(self):
        for tree in TREES:
            for w, c in server_containers(render(tree)[1]):
                yield tree, w, c

    def test_there_are_server_containers(self):
        for tree in TREES:
            names = sorted(w["metadata"]["name"] for w, _ in server_containers(render(tree)[1]))
            self.assertEqual(names, ["enlace-ca", "enlace-migrate", "enlace-server"], tree)

    def test_every_flag_exists(self):
        flags, text = server_help()
        for tree, w, c in self.containers():
            for name in arg_flags(c):
                with self.subTest(tree=tree, workload=w["metadata"]["name"], flag=name):
                    self.assertIn(name, flags, f"--{name} is not in enlace-server --help")
            for e in c.get("env", []):
                if not e["name"].startswith("ENLACE_"):
                    continue
                flag = e["name"][len("ENLACE_"):].lower()
                with self.subTest(tree=tree, workload=w["metadata"]["name"], env=e["name"]):
                    # ENLACE_<FLAG>, or a variable the help names (the passwords).
                    self.assertTrue(flag in flags or e["name"] in text,
                                    f"{e['name']}: no flag --{flag} and not in --help")

    def test_ports_are_the_ones_the_flags_set(self):
        for tree, w, c in self.containers():
            flags = arg_flags(c)
            what = f"{tree}: {w['metadata']['name']}"
            if "migrate" in flags:
                self.assertNotIn("ports", c, f"{what}: the migrations Job listens on nothing")
                continue
            addrs = {k: flags.get(k) for k in ("tls_addr", "health_addr", "metrics_addr")}
            self.assertTrue(all(addrs.values()), f"{what}: {addrs}")
            ports = {port_of(a) for a in addrs.values()}
            health = port_of(addrs["health_addr"])
            self.assertEqual({p["containerPort"] for p in c["ports"]}, ports, what)
            probes = {k: c.get(k) for k in ("readinessProbe", "livenessProbe", "startupProbe")}
            for kind, probe in probes.items():
                self.assertIsNotNone(probe, f"{what}: no {kind}")
                self.assertEqual(probe["grpc"]["port"], health, f"{what}: {kind}")
            # Readiness follows the database (overall health, no service name);
            # liveness and startup only the process.
            self.assertNotIn("service", probes["readinessProbe"]["grpc"], what)
            self.assertEqual(probes["livenessProbe"]["grpc"].get("service"), LIVENESS_SERVICE, what)
            self.assertEqual(probes["startupProbe"]["grpc"].get("service"), LIVENESS_SERVICE, what)

    def test_services_reach_ports_that_listen(self):
        for tree in TREES:
            objects = render(tree)[1]
            for svc in find(objects, "Service"):
                selector = svc["spec"].get("selector", {})
                targets = [w for w in workloads(objects) if selects(selector, pod_labels(w))]
                what = f"{tree}: Service {svc['metadata']['name']}"
                self.assertTrue(targets, f"{what} selects no pods")
                for port in svc["spec"]["ports"]:
                    target = port.get("targetPort", port["port"])
                    reached = False
                    for w in targets:
                        for c in pod_spec(w)["containers"]:
                            for cp in c.get("ports", []):
                                if target in (cp.get("name"), cp["containerPort"]):
                                    reached = True
                                    if (w, c) in [(x, y) for x, y in server_containers(objects)]:
                                        addrs = arg_flags(c)
                                        self.assertIn(cp["containerPort"], {
                                            port_of(addrs[k]) for k in
                                            ("tls_addr", "health_addr", "metrics_addr")}, what)
                    self.assertTrue(reached, f"{what}: targetPort {target} is no container's port")

    def test_ca_role_addr_names_the_ca_service(self):
        for tree in TREES:
            objects = render(tree)[1]
            for w, c in server_containers(objects):
                addr = arg_flags(c).get("ca_role_addr")
                if not addr:
                    continue
                host, port = addr.rsplit(":", 1)
                name, _, rest = host.partition(".")
                self.assertEqual(rest, f"{NAMESPACE}.svc", addr)
                svc = one(objects, "Service", name)
                self.assertIn(int(port), [p["port"] for p in svc["spec"]["ports"]], addr)
                ca = one(objects, "Deployment", "enlace-ca")
                self.assertTrue(selects(svc["spec"]["selector"], pod_labels(ca)), addr)

    def test_file_flags_point_into_mounted_volumes(self):
        for tree, w, c in self.containers():
            mounts = [m["mountPath"] for m in c.get("volumeMounts", [])]
            for name, value in arg_flags(c).items():
                if value and value.startswith("/"):
                    with self.subTest(tree=tree, workload=w["metadata"]["name"], flag=name):
                        self.assertTrue(any(value.startswith(m + "/") for m in mounts),
                                        f"--{name}={value} is in no volume of {mounts}")

    def test_networkpolicy_ports_of_server_pods_are_flag_ports(self):
        for tree in TREES:
            objects = render(tree)[1]
            for w, c in server_containers(objects):
                flags = arg_flags(c)
                if "migrate" in flags:
                    continue
                listening = {port_of(flags[k]) for k in ("tls_addr", "health_addr", "metrics_addr")}
                for np in find(objects, "NetworkPolicy"):
                    if not label_selector_matches(np["spec"]["podSelector"], pod_labels(w)):
                        continue
                    for rule in np["spec"].get("ingress", []):
                        for p in rule.get("ports", []):
                            self.assertIn(p["port"], listening,
                                          f"{tree}: NetworkPolicy {np['metadata']['name']}")


class BaseTest(unittest.TestCase):
    """What the base promises, in every tree."""

    def test_serving_deployment(self):
        for tree in TREES:
            objects = render(tree)[1]
            dep = one(objects, "Deployment", "enlace-server")
            self.assertNotIn("replicas", dep["spec"], f"{tree}: the HPA owns replicas")
            hpa = one(objects, "HorizontalPodAutoscaler", "enlace-server")
            self.assertEqual(hpa["apiVersion"], "autoscaling/v2")
            self.assertEqual(hpa["spec"]["scaleTargetRef"],
                             {"apiVersion": "apps/v1", "kind": "Deployment", "name": "enlace-server"})
            self.assertGreaterEqual(hpa["spec"]["minReplicas"], 2)
            self.assertEqual([m["resource"]["name"] for m in hpa["spec"]["metrics"]], ["cpu"])
            pdb = one(objects, "PodDisruptionBudget", "enlace-server")
            self.assertEqual(pdb["spec"]["minAvailable"], 1)
            self.assertTrue(selects(pdb["spec"]["selector"]["matchLabels"], pod_labels(dep)))
            terms = pod_spec(dep)["affinity"]["podAntiAffinity"][
                "preferredDuringSchedulingIgnoredDuringExecution"]
            self.assertEqual([t["podAffinityTerm"]["topologyKey"] for t in terms],
                             ["kubernetes.io/hostname"])
            self.assertTrue(selects(terms[0]["podAffinityTerm"]["labelSelector"]["matchLabels"],
                                    pod_labels(dep)))

    def test_headless_service_beside_the_normal_one(self):
        for tree in TREES:
            objects = render(tree)[1]
            normal = one(objects, "Service", "enlace-server")
            headless = one(objects, "Service", "enlace-server-headless")
            self.assertNotEqual(normal["spec"].get("clusterIP"), "None")
            self.assertEqual(headless["spec"]["clusterIP"], "None")
            self.assertEqual(headless["spec"]["selector"], normal["spec"]["selector"])

    def test_certificate_reaches_the_pods_without_subpath(self):
        for tree in TREES:
            objects = render(tree)[1]
            cert = one(objects, "Certificate", "enlace-tls")
            secret = cert["spec"]["secretName"]
            for name in ("enlace-server", "enlace-ca"):
                dep = one(objects, "Deployment", name)
                volumes = [v["name"] for v in pod_spec(dep)["volumes"]
                           if v.get("secret", {}).get("secretName") == secret]
                self.assertEqual(len(volumes), 1, f"{tree}: {name}")
                mounts = [m for c in pod_spec(dep)["containers"] for m in c.get("volumeMounts", [])
                          if m["name"] == volumes[0]]
                self.assertTrue(mounts, f"{tree}: {name} does not mount {secret}")
                for m in mounts:
                    self.assertNotIn("subPath", m, f"{tree}: {name}: rotation needs no subPath")
                    self.assertNotIn("subPathExpr", m)
            for dns in ("enlace-server.enlace.svc", "enlace-server-headless.enlace.svc",
                        "enlace-ca.enlace.svc"):
                self.assertIn(dns, cert["spec"]["dnsNames"])

    def test_network_policies(self):
        for tree in TREES:
            objects = render(tree)[1]
            deny = one(objects, "NetworkPolicy", "enlace-default-deny")
            self.assertEqual(deny["spec"]["podSelector"], {})
            self.assertEqual(sorted(deny["spec"]["policyTypes"]), ["Egress", "Ingress"])
            self.assertNotIn("ingress", deny["spec"])
            self.assertNotIn("egress", deny["spec"])
            dns = one(objects, "NetworkPolicy", "enlace-dns")
            self.assertEqual({p["port"] for r in dns["spec"]["egress"] for p in r["ports"]}, {53})
            server = one(objects, "NetworkPolicy", "enlace-server")
            by_port = {p["port"]: r["from"] for r in server["spec"]["ingress"] for p in r["ports"]}
            self.assertTrue(all("ipBlock" in peer for peer in by_port[7443]), by_port[7443])
            self.assertEqual(by_port[7444], [{"namespaceSelector": {}}])
            self.assertIn("namespaceSelector", by_port[7445][0])
            for np in find(objects, "NetworkPolicy"):
                rules = np["spec"].get("ingress", []) + np["spec"].get("egress", [])
                for rule in rules:
                    for peer in rule.get("from", []) + rule.get("to", []):
                        # kustomize adds our labels to matchLabels: a selector of
                        # other pods must not carry them.
                        labels = peer.get("podSelector", {}).get("matchLabels", {})
                        self.assertNotIn("app.kubernetes.io/name", labels,
                                         f"{tree}: NetworkPolicy {np['metadata']['name']}: {peer}")

    def test_database_pods_are_reachable_by_the_clients_policy(self):
        for tree, expected in (("dev", "StatefulSet"), ("production", "MariaDB")):
            objects = render(tree)[1]
            clients = one(objects, "NetworkPolicy", "enlace-database-clients")
            to = clients["spec"]["egress"][0]["to"][0]["podSelector"]
            if expected == "StatefulSet":
                labels = pod_labels(one(objects, "StatefulSet", "enlace-mariadb"))
            else:
                labels = one(objects, "MariaDB", "enlace-db")["spec"]["podMetadata"]["labels"]
            self.assertTrue(label_selector_matches(to, labels), f"{tree}: {labels}")
            for name in ("enlace-server", "enlace-ca"):
                self.assertTrue(label_selector_matches(clients["spec"]["podSelector"],
                                                       pod_labels(one(objects, "Deployment", name))))
            self.assertTrue(label_selector_matches(clients["spec"]["podSelector"],
                                                   pod_labels(one(objects, "Job", "enlace-migrate"))))


def parse_dsn(dsn):
    m = re.fullmatch(r"mysql://([A-Za-z0-9_]+)@([^/]+)/([A-Za-z0-9_]+)", dsn)
    if not m:
        raise AssertionError(f"not a DSN of the form mysql://user@host:port[,host:port...]/db: {dsn}")
    return m.group(1), m.group(2).split(","), m.group(3)


class OverlayTest(unittest.TestCase):
    def dsn(self, objects, workload, container, var):
        c = [c for c in pod_spec(workload)["containers"] if c["name"] == container][0]
        e = env_value(c, var)
        self.assertIsNotNone(e, f"{workload['metadata']['name']}: {var}")
        self.assertNotIn("valueFrom", e, "the overlay's DSN replaces the base's secretKeyRef")
        return parse_dsn(e["value"])

    def test_dev_one_mariadb_statefulset(self):
        objects = render("dev")[1]
        sts = one(objects, "StatefulSet", "enlace-mariadb")
        self.assertEqual(sts["spec"]["replicas"], 1)
        image = pod_spec(sts)["containers"][0]["image"]
        self.assertRegex(image, r"^docker\.io/library/mariadb:10\.11(\.\d+)?$")
        self.assertTrue(sts["spec"]["volumeClaimTemplates"])
        svc = one(objects, "Service", sts["spec"]["serviceName"])
        self.assertEqual(svc["spec"]["clusterIP"], "None")
        expected_host = f"{svc['metadata']['name']}.{NAMESPACE}.svc.cluster.local:3306"
        for name, container in (("enlace-server", "enlace-server"), ("enlace-ca", "enlace-ca")):
            user, hosts, db = self.dsn(objects, one(objects, "Deployment", name), container,
                                       "ENLACE_DB_DSN")
            self.assertEqual((user, hosts, db), ("enlace_server", [expected_host], "enlace"))
        job = one(objects, "Job", "enlace-migrate")
        self.assertEqual(self.dsn(objects, job, "enlace-migrate", "ENLACE_MIGRATE_DSN"),
                         ("enlace_migrate", [expected_host], "enlace"))
        # The Secrets the init script's passwords come from are the ones the
        # server and the Job log in with.
        db = pod_spec(sts)["containers"][0]
        for var, workload, container, their_var in (
                ("ENLACE_SERVER_PASSWORD", one(objects, "Deployment", "enlace-server"),
                 "enlace-server", "ENLACE_DB_PASSWORD"),
                ("ENLACE_MIGRATE_PASSWORD", job, "enlace-migrate", "ENLACE_MIGRATE_PASSWORD")):
            theirs = env_value([c for c in pod_spec(workload)["containers"]
                                if c["name"] == container][0], their_var)
            self.assertEqual(env_value(db, var)["valueFrom"], theirs["valueFrom"], var)

    def test_production_galera_through_the_operator(self):
        objects = render("production")[1]
        self.assertEqual(find(objects, "StatefulSet"), [], "the operator makes the StatefulSet")
        mariadb = find(objects, "MariaDB")
        self.assertEqual(len(mariadb), 1)
        mariadb = mariadb[0]
        self.assertEqual(mariadb["apiVersion"], NO_SCHEMA_GROUP)
        spec = mariadb["spec"]
        name = mariadb["metadata"]["name"]
        self.assertIs(spec["galera"]["enabled"], True)
        replicas = spec["replicas"]
        self.assertGreaterEqual(replicas, 3)
        self.assertEqual(replicas % 2, 1, "an odd number of Galera nodes keeps a quorum")
        self.assertRegex(spec["image"], r"^docker\.io/library/mariadb:10\.11(\.\d+)?$")
        self.assertIs(spec["affinity"]["antiAffinityEnabled"], True)
        self.assertEqual(set(spec["rootPasswordSecretKeyRef"]), {"name", "key"})
        self.assertIn("size", spec["storage"])
        # The server's DSN names every node, in order, by the operator's pod DNS.
        nodes = [f"{name}-{i}.{name}-internal.{NAMESPACE}.svc.cluster.local:3306"
                 for i in range(replicas)]
        for dep in ("enlace-server", "enlace-ca"):
            user, hosts, db = self.dsn(objects, one(objects, "Deployment", dep), dep, "ENLACE_DB_DSN")
            self.assertEqual((user, hosts, db), ("enlace_server", nodes, "enlace"), dep)
        job = one(objects, "Job", "enlace-migrate")
        migrate_user, _, migrate_db = self.dsn(objects, job, "enlace-migrate", "ENLACE_MIGRATE_DSN")
        self.assertEqual((migrate_user, migrate_db), ("enlace_migrate", "enlace"))
        # Every operator object refers to this MariaDB; the accounts and the
        # database are the DSNs', with the Secrets the pods log in with.
        for o in objects:
            if o["apiVersion"] == NO_SCHEMA_GROUP and o["kind"] != "MariaDB":
                self.assertEqual(o["spec"]["mariaDbRef"]["name"], name, o["metadata"]["name"])
        users = {u["spec"]["name"]: u["spec"] for u in find(objects, "User")}
        self.assertEqual(set(users), {"enlace_server", "enlace_migrate"})
        server = [c for c in pod_spec(one(objects, "Deployment", "enlace-server"))["containers"]][0]
        self.assertEqual(users["enlace_server"]["passwordSecretKeyRef"],
                         env_value(server, "ENLACE_DB_PASSWORD")["valueFrom"]["secretKeyRef"])
        migrate = pod_spec(job)["containers"][0]
        self.assertEqual(users["enlace_migrate"]["passwordSecretKeyRef"],
                         env_value(migrate, "ENLACE_MIGRATE_PASSWORD")["valueFrom"]["secretKeyRef"])
        self.assertEqual([d["spec"]["name"] for d in find(objects, "Database")], ["enlace"])
        grants = find(objects, "Grant")
        self.assertEqual(len(grants), 1, "enlace_server gets its grants from --migrate only")
        self.assertEqual(grants[0]["spec"]["username"], "enlace_migrate")
        self.assertIs(grants[0]["spec"]["grantOption"], True)
        self.assertEqual(grants[0]["spec"]["database"], "enlace")
        # The server's connections fit the account's limit.
        hpa = one(objects, "HorizontalPodAutoscaler", "enlace-server")
        pool = int(arg_flags(server).get("db_pool_size") or 16)
        self.assertGreaterEqual(users["enlace_server"]["maxUserConnections"],
                                hpa["spec"]["maxReplicas"] * pool)


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="the enlace-server binary")
    parser.add_argument("--node-modules", required=True,
                        help="node_modules with the pinned npm packages (build/npm/node_modules)")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
