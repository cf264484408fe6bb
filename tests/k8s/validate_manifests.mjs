// Validates rendered Kubernetes manifests (multi-document YAML, as
// `kubectl kustomize` prints them) against the Kubernetes API schemas of npm
// `kubernetes-models` and the cert-manager schemas of
// `@kubernetes-models/cert-manager` (versions pinned in
// scripts/npm/package-lock.json, installed into build/npm by
// scripts/lib/common.sh's ensure_npm_tools). Run by
// tests/k8s/k8s_manifests_test.py; offline.
//
//   node validate_manifests.mjs NODE_MODULES_DIR FILE.yaml...
//
// Prints one JSON line per document: {file, index, apiVersion, kind, name,
// status, errors}, status being "valid", "invalid" (errors: the schema's
// messages) or "no-schema" (no model for that apiVersion and kind: the caller
// decides what it accepts there). Exits 1 when any document is invalid or is
// not a Kubernetes object at all, 2 on a usage or YAML error.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";

const [modulesDir, ...files] = process.argv.slice(2);
if (!modulesDir || files.length === 0) {
  console.error("usage: node validate_manifests.mjs NODE_MODULES_DIR FILE.yaml...");
  process.exit(2);
}
// Resolve the packages from build/npm/node_modules, not from beside this file.
const require = createRequire(path.join(path.resolve(modulesDir), "_resolve_from_here.js"));
const YAML = require("yaml");
const groups = [require("kubernetes-models"), require("@kubernetes-models/cert-manager")];

// "apiVersion/kind" -> model class, found by walking the packages' exports
// (group -> version -> class; each class carries its apiVersion and kind).
const models = new Map();
function collect(namespace, depth) {
  for (const value of Object.values(namespace)) {
    if (typeof value === "function" && typeof value.apiVersion === "string" &&
        typeof value.kind === "string") {
      models.set(`${value.apiVersion}/${value.kind}`, value);
    } else if (value && typeof value === "object" && depth < 3) {
      collect(value, depth + 1);
    }
  }
}
groups.forEach((g) => collect(g, 0));
if (!models.has("apps/v1/Deployment") || !models.has("cert-manager.io/v1/Certificate")) {
  console.error(`validate_manifests: the models did not load from ${modulesDir}`);
  process.exit(2);
}

let failed = false;
for (const file of files) {
  let docs;
  try {
    docs = YAML.parseAllDocuments(readFileSync(file, "utf8"));
  } catch (e) {
    console.error(`validate_manifests: ${file}: ${e.message}`);
    process.exit(2);
  }
  docs.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      console.error(`validate_manifests: ${file}: document ${index}: ${doc.errors[0].message}`);
      process.exit(2);
    }
    const data = doc.toJS();
    if (data === null || data === undefined) return;  // an empty document
    const out = {
      file, index, apiVersion: data.apiVersion, kind: data.kind,
      name: data.metadata && data.metadata.name, status: "valid", errors: [],
    };
    if (typeof data.apiVersion !== "string" || typeof data.kind !== "string" ||
        typeof out.name !== "string") {
      out.status = "invalid";
      out.errors.push("not a Kubernetes object (apiVersion, kind and metadata.name)");
    } else {
      const Model = models.get(`${data.apiVersion}/${data.kind}`);
      if (!Model) {
        out.status = "no-schema";
      } else {
        try {
          new Model(data).validate();
        } catch (e) {
          out.status = "invalid";
          out.errors = Array.isArray(e.errors) && e.errors.length > 0
            ? e.errors.map((x) => `${x.instancePath || "/"} ${x.message}` +
                (x.params && x.params.allowedValues ? ` (${x.params.allowedValues.join(", ")})` : ""))
            : [String(e.message)];
        }
      }
    }
    if (out.status === "invalid") failed = true;
    console.log(JSON.stringify(out));
  });
}
process.exit(failed ? 1 : 0);
