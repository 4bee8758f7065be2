// Validates Kubernetes objects (multi-document YAML on stdin) against the
// JSON schemas of kubernetes-models and @kubernetes-models/prometheus-operator
// (generated from the Kubernetes OpenAPI and the Prometheus Operator CRDs).
// Prints one line per invalid object and a summary; exits 1 if any object
// is invalid or of a kind it has no schema for.
//
//   helm template ... | node tests/helm/validate_k8s.mjs
import { readFileSync } from "node:fs";
import yaml from "js-yaml";

const modules = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "policy/v1": "kubernetes-models/policy/v1",
  "monitoring.coreos.com/v1":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
  "monitoring.coreos.com/v1alpha1":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1",
};

let count = 0;
let invalid = 0;
for (const doc of yaml.loadAll(readFileSync(0, "utf8"))) {
  if (!doc) continue;
  count++;
  const where = `${doc.kind} ${doc.metadata?.name}`;
  const module = modules[doc.apiVersion];
  const Model = module && (await import(module))[doc.kind];
  if (!Model) {
    console.log(`${where}: no schema for ${doc.apiVersion} ${doc.kind}`);
    invalid++;
    continue;
  }
  try {
    new Model(doc).validate();
  } catch (e) {
    console.log(`${where}: ${e.message}`);
    invalid++;
  }
}
console.log(`${count} objects, ${invalid} invalid`);
process.exit(invalid ? 1 : 0);
