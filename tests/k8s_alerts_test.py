"""The alert rules in k8s/monitoring name only metrics the server exports.

A renamed metric would leave an alert that can never fire; this reads the
rules (PyYAML) and the metric names declared in server/metrics.cc (every
`.Name("...")`), and fails naming any metric an expression uses that the
server does not export. Run by ctest (k8s_alerts_test).
"""
import os
import re
import sys
import unittest

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = os.path.join(ROOT, "k8s", "monitoring", "enlace-alerts.yaml")
METRICS_SOURCE = os.path.join(ROOT, "server", "metrics.cc")
# Series Prometheus derives from a histogram or summary.
DERIVED_SUFFIXES = ("_bucket", "_count", "_sum")


def exported_metrics():
    with open(METRICS_SOURCE, encoding="utf-8") as f:
        return set(re.findall(r'\.Name\("([a-z_][a-z0-9_]*)"\)', f.read()))


def base_name(series, exported):
    if series in exported:
        return series
    for suffix in DERIVED_SUFFIXES:
        if series.endswith(suffix) and series[: -len(suffix)] in exported:
            return series[: -len(suffix)]
    return None


class AlertRulesTest(unittest.TestCase):
    def test_every_metric_in_an_alert_is_exported(self):
        exported = exported_metrics()
        self.assertIn("enlace_audit_seconds_since_cosigned", exported)
        with open(RULES, encoding="utf-8") as f:
            rules = yaml.safe_load(f)
        self.assertEqual(rules["kind"], "PrometheusRule")
        alerts = [r for g in rules["spec"]["groups"] for r in g["rules"] if "alert" in r]
        self.assertGreaterEqual(len(alerts), 2)
        names = {a["alert"] for a in alerts}
        self.assertIn("EnlaceAuditUnwitnessed", names)
        self.assertIn("EnlaceAuditTreeStalled", names)
        for alert in alerts:
            used = set(re.findall(r"\benlace_[a-z0-9_]+", alert["expr"]))
            self.assertTrue(used, f"{alert['alert']}: names no enlace metric")
            for series in used:
                self.assertIsNotNone(
                    base_name(series, exported),
                    f"{alert['alert']}: {series} is not a metric the server exports "
                    f"(server/metrics.cc has {sorted(exported)})")
            self.assertIn("summary", alert.get("annotations", {}), alert["alert"])


if __name__ == "__main__":
    sys.exit(unittest.main())
