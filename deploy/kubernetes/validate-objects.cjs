// deploy/kubernetes/validate-objects.cjs: validates Kubernetes YAML files without a cluster.
// Run by deploy/kubernetes/validate, which installs its npm packages first:
//
//   node validate-objects.cjs MODULES_DIR SCHEMAS_DIR FILE.yaml...
//
// Every object of every file is checked against the schema of its kind by the npm package
// kubernetes-models (required fields, types, enums, formats; not unknown fields). Then the
// objects are checked against each other and against edgefn's own rules: kustomization.yaml
// lists every file, selectors match, the ConfigMap holds the manifest and the same schemas as
// SCHEMAS_DIR, the grace period covers preStop + drain_timeout, probes reach the admin port the
// manifest listens on, and [cache.redis] names the Redis Service. Prints one line per object
// and per check ("ok ..." or "FAIL ..."); exits 1 if anything failed. With EDGEFN_MANIFEST_OUT
// set, writes the ConfigMap's files there (for `edgefn check`).
"use strict";
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

const [modulesDir, schemasDir, ...files] = process.argv.slice(2);
if (!modulesDir || !schemasDir || files.length === 0) {
  console.error("usage: validate-objects.cjs MODULES_DIR SCHEMAS_DIR FILE.yaml...");
  process.exit(2);
}
const load = createRequire(path.join(path.resolve(modulesDir), "node_modules", "x.js"));
const YAML = load("yaml");

let failed = 0;
const ok = (what) => console.log(`ok    ${what}`);
const fail = (what) => {
  console.log(`FAIL  ${what}`);
  failed += 1;
};
const check = (condition, what, why) => (condition ? ok(what) : fail(`${what}: ${why}`));

// "apps/v1" + "DaemonSet" -> kubernetes-models/apps/v1/DaemonSet; "v1" -> kubernetes-models/v1/…
function modelOf(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string") return null;
  try {
    return load(`kubernetes-models/${apiVersion}/${kind}`)[kind];
  } catch {
    return null;
  }
}

const objects = [];  // { file, object }
let kustomization = null;
for (const file of files) {
  const name = path.basename(file);
  let documents;
  try {
    documents = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  } catch (error) {
    fail(`${name}: ${error.message}`);
    continue;
  }
  for (const document of documents) {
    if (document.errors.length > 0) {
      fail(`${name}: ${document.errors.map((e) => e.message).join("; ")}`);
      continue;
    }
    const object = document.toJS();
    if (object === null || object === undefined) continue;
    const label = `${name}: ${object.kind} ${object.metadata?.name ?? ""}`.trimEnd();
    if (object.kind === "Kustomization") {
      kustomization = { file, object };
      const known = ["apiVersion", "kind", "namespace", "labels", "resources", "images"];
      const unknown = Object.keys(object).filter((key) => !known.includes(key));
      check(object.apiVersion === "kustomize.config.k8s.io/v1beta1" && unknown.length === 0,
        label, `apiVersion kustomize.config.k8s.io/v1beta1 and only ${known.join(", ")}`);
      continue;
    }
    const Model = modelOf(object.apiVersion, object.kind);
    if (!Model) {
      fail(`${label}: no schema for apiVersion ${object.apiVersion} kind ${object.kind}`);
      continue;
    }
    try {
      new Model(object).validate();
      ok(`${label} (${object.apiVersion})`);
    } catch (error) {
      fail(`${label}: ${error.message}`);
    }
    objects.push({ file, object });
  }
}

// --- how the objects fit together -----------------------------------------------------------
const find = (kind, name) =>
  objects.map((o) => o.object).find((o) => o.kind === kind && o.metadata?.name === name);
const daemonSet = find("DaemonSet", "edgefn");
const configMap = find("ConfigMap", "edgefn-config");
const service = find("Service", "edgefn");
const redisService = find("Service", "redis");
const redis = find("Deployment", "redis");

if (!kustomization) {
  fail("kustomization.yaml: missing");
} else {
  const dir = path.dirname(kustomization.file);
  const listed = (kustomization.object.resources ?? []).slice().sort();
  const present = files
    .filter((f) => path.dirname(f) === dir && path.basename(f) !== "kustomization.yaml")
    .map((f) => path.basename(f))
    .sort();
  check(JSON.stringify(listed) === JSON.stringify(present),
    "kustomization.yaml lists every object file", `lists ${listed}, the folder has ${present}`);
  const namespace = kustomization.object.namespace;
  check(!!find("Namespace", namespace), `kustomization.yaml: namespace ${namespace} is created`,
    "no Namespace object of that name");
}

for (const [what, object] of [["DaemonSet edgefn", daemonSet], ["ConfigMap edgefn-config", configMap],
  ["Service edgefn", service], ["Deployment redis", redis], ["Service redis", redisService]]) {
  if (!object) fail(`${what}: missing`);
}

const subset = (selector, labels) =>
  Object.entries(selector ?? {}).every(([key, value]) => labels?.[key] === value);

if (daemonSet && configMap) {
  const pod = daemonSet.spec.template.spec;
  const container = pod.containers.find((c) => c.name === "edgefn") ?? pod.containers[0];
  const data = configMap.data ?? {};
  const manifest = data["edgefn.toml"] ?? "";

  check(subset(daemonSet.spec.selector.matchLabels, daemonSet.spec.template.metadata?.labels),
    "DaemonSet edgefn: selector matches its pod labels", "matchLabels not on the template");
  if (service) {
    check(subset(service.spec.selector, daemonSet.spec.template.metadata?.labels),
      "Service edgefn: selector matches the DaemonSet's pods", "no pod has those labels");
  }

  // The volume is the ConfigMap, mounted where the args read the manifest, reloaded by --watch.
  const volume = (pod.volumes ?? []).find((v) => v.configMap?.name === configMap.metadata.name);
  const mount = volume && (container.volumeMounts ?? []).find((m) => m.name === volume.name);
  const args = container.args ?? [];
  check(!!mount && args[0] === `${mount.mountPath}/edgefn.toml` && args.includes("--watch"),
    "DaemonSet edgefn: serves the ConfigMap's edgefn.toml with --watch",
    `args ${JSON.stringify(args)}, mount ${mount?.mountPath}`);
  check(!mount?.subPath, "DaemonSet edgefn: no subPath (a subPath mount never sees an update)",
    "subPath set");

  // Every schema the manifest names is in the ConfigMap and equal to SCHEMAS_DIR's.
  const schemas = [...manifest.matchAll(/^body_schema\s*=\s*"([^"]+)"/gm)].map((m) => m[1]);
  check(schemas.length > 0, "ConfigMap edgefn-config: the manifest names a body_schema", "none");
  for (const schema of schemas) {
    const reference = path.join(schemasDir, path.basename(schema));
    const same = fs.existsSync(reference) && data[schema] === fs.readFileSync(reference, "utf8");
    check(!schema.includes("/") && same,
      `ConfigMap edgefn-config: ${schema} is deploy/schemas/${path.basename(schema)}`,
      schema.includes("/") ? "a ConfigMap key cannot hold a folder" : "missing or different");
  }

  // Probes on the admin port, which the manifest's admin address listens on.
  const adminPort = Number((manifest.match(/^admin\s*=\s*"[^"]*:(\d+)"/m) ?? [])[1]);
  const listenPort = Number((manifest.match(/^listen\s*=\s*"[^"]*:(\d+)"/m) ?? [])[1]);
  const portNamed = (name) => (container.ports ?? []).find((p) => p.name === name)?.containerPort;
  const probePort = (probe) => {
    const port = probe?.httpGet?.port;
    return typeof port === "string" ? portNamed(port) : port;
  };
  check(container.readinessProbe?.httpGet?.path === "/readyz" &&
      probePort(container.readinessProbe) === adminPort,
    `DaemonSet edgefn: readiness GET /readyz on the admin port ${adminPort}`,
    `probe ${JSON.stringify(container.readinessProbe?.httpGet)}`);
  check(container.livenessProbe?.httpGet?.path === "/healthz" &&
      probePort(container.livenessProbe) === adminPort,
    `DaemonSet edgefn: liveness GET /healthz on the admin port ${adminPort}`,
    `probe ${JSON.stringify(container.livenessProbe?.httpGet)}`);
  check(portNamed("http") === listenPort,
    `DaemonSet edgefn: port "http" is the manifest's listen port ${listenPort}`,
    `containerPort ${portNamed("http")}`);

  // The grace period covers the preStop sleep and the whole drain.
  const drain = (manifest.match(/^drain_timeout\s*=\s*"(\d+)s"/m) ?? [])[1];
  const sleep = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  check(drain !== undefined && grace >= sleep + Number(drain) + 1,
    `DaemonSet edgefn: grace ${grace}s >= preStop ${sleep}s + drain_timeout ${drain}s`,
    "SIGKILL would cut the drain short (drain_timeout must be in whole seconds here)");

  // Non-root, read-only, no capabilities, the io_uring seccomp profile.
  const sc = container.securityContext ?? {};
  check(pod.securityContext?.runAsNonRoot === true && sc.readOnlyRootFilesystem === true &&
      sc.allowPrivilegeEscalation === false && (sc.capabilities?.drop ?? []).includes("ALL"),
    "DaemonSet edgefn: non-root, read-only root, no capabilities", JSON.stringify(sc));
  const seccomp = sc.seccompProfile ?? pod.securityContext?.seccompProfile;
  check(seccomp?.type === "Localhost" && seccomp.localhostProfile === "edgefn-io-uring.json",
    "DaemonSet edgefn: seccomp Localhost edgefn-io-uring.json", JSON.stringify(seccomp));
  check(!!container.resources?.requests && !!container.resources?.limits?.memory,
    "DaemonSet edgefn: resource requests and a memory limit", "missing");

  // [cache.redis] is the Redis Service of this namespace.
  if (redisService) {
    const namespace = kustomization?.object.namespace;
    const address = (manifest.match(/^\[cache\.redis\][^[]*?^address\s*=\s*"([^"]+)"/ms) ?? [])[1];
    const expected = `${redisService.metadata.name}.${namespace}.svc:${redisService.spec.ports[0].port}`;
    check(address === expected || address === expected.replace(".svc:", ".svc.cluster.local:"),
      `ConfigMap edgefn-config: [cache.redis] address is the redis Service (${address})`,
      `expected ${expected}`);
  }
  if (redis && redisService) {
    check(subset(redisService.spec.selector, redis.spec.template.metadata?.labels),
      "Service redis: selector matches the redis pods", "no pod has those labels");
  }

  if (process.env.EDGEFN_MANIFEST_OUT) {
    for (const [key, value] of Object.entries(data)) {
      fs.writeFileSync(path.join(process.env.EDGEFN_MANIFEST_OUT, key), value);
    }
  }
}

process.exit(failed > 0 ? 1 : 0);
