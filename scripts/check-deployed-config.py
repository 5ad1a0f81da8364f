#!/usr/bin/env python3
"""Runs every service binary with exactly the flags and environment that docker-compose.yml and
the rendered Kubernetes manifests give it, and checks that each setting took effect.

`--check-config` validates everything and prints the effective configuration; every NEWSFLOW_*
variable given must show up there with its value (so a renamed variable, which clap would
silently ignore, fails). Ports of health checks, probes and scrape targets must match the
admin address; KEDA's consumer group and topic must be the service's.

The gateway prints its settings its own way (`kafka_options = [k=v, …]`, `listen` for
NEWSFLOW_GATEWAY_LISTEN, `tokens = N` for the count of tokens, no log format): `shown_settings`
reads both. Its API port must be the one compose publishes and the Service and Ingress reach;
KEDA's Prometheus trigger must query the job its ServiceMonitor gives it.

usage: check-deployed-config.py BINARIES_DIR RENDERED_K8S.yaml…
"""
import base64, json, os, pathlib, re, subprocess, sys, tempfile
import yaml

root = pathlib.Path(__file__).resolve().parent.parent
binaries = pathlib.Path(sys.argv[1])
failures = []

def fail(where, message):
    failures.append(f"{where}: {message}")

def shown_settings(stdout):
    """`key = value` lines of --check-config; the gateway's `kafka_options = [k=v, …]` becomes
    `kafka.k = v` as the stage services print it, and its quoted values are unquoted."""
    shown = {}
    for line in stdout.splitlines():
        if " = " not in line:
            continue
        key, value = line.split(" = ", 1)
        if key == "kafka_options":
            for option in filter(None, value.strip("[]").split(", ")):
                option_key, _, option_value = option.partition("=")
                shown[f"kafka.{option_key}"] = option_value
            continue
        if value.startswith('"') and value.endswith('"'):
            value = json.loads(value)
        shown[key] = value
    return shown

def in_help(binary, var):
    result = subprocess.run([str(binaries / binary), "--help"], capture_output=True, text=True)
    return f"[env: {var}" in " ".join(result.stdout.split())

def check_config(where, binary, args, env):
    full_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    full_env.update(env)
    if not (binaries / binary).is_file():
        fail(where, f"there is no binary {binary} in {binaries}")
        return {}
    result = subprocess.run([str(binaries / binary), *args, "--check-config"], env=full_env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        fail(where, f"--check-config failed: {result.stderr.strip()}")
        return {}
    shown = shown_settings(result.stdout)
    for var, value in env.items():
        if not var.startswith("NEWSFLOW_"):
            continue
        if var == "NEWSFLOW_KAFKA_OPTIONS":
            for option in filter(None, value.split(";")):
                key, _, val = option.partition("=")
                if shown.get(f"kafka.{key}") not in (val, "*****"):
                    fail(where, f"{var}: kafka.{key} not in effect")
                if "pass" in key and val in result.stdout:
                    fail(where, f"the secret {key} is printed")
            continue
        if var == "NEWSFLOW_GATEWAY_TOKENS":  # read by the gateway itself, shown as a count
            tokens = [t for t in value.split(";") if t.strip()]
            if not tokens or shown.get("tokens") != str(len(tokens)):
                fail(where, f"{var} has {len(tokens)} tokens, the gateway loaded {shown.get('tokens')}")
            continue
        if var == "NEWSFLOW_GATEWAY_TOKENS_FILE":
            if shown.get("tokens", "0") == "0":
                fail(where, f"{var}: the gateway loaded no tokens")
            continue
        key = var[len("NEWSFLOW_"):].lower()
        if key not in shown and key.startswith("gateway_"):
            key = key[len("gateway_"):]
        if key not in shown and binary == "newsflow-gateway" and in_help(binary, var):
            continue  # parsed by clap (a bad value fails --check-config) but not printed
        if key not in shown:
            fail(where, f"{var} is not a setting of {binary} (not in --check-config)")
        elif shown[key] != value:
            fail(where, f"{var}={value} but the effective {key} is {shown[key]}")
    return shown

def cli_accepts(where, args, env):
    """CLI commands without --check-config: every variable must be one `--help` lists."""
    result = subprocess.run([str(binaries / "newsflow"), *args, "--help"], capture_output=True, text=True)
    if result.returncode != 0:
        fail(where, f"`newsflow {' '.join(args)}` is not a command: {result.stderr.strip()}")
        return
    help_text = " ".join(result.stdout.split())  # undo line wrapping
    for var in env:
        if var.startswith("NEWSFLOW_") and f"[env: {var}" not in help_text:
            fail(where, f"`newsflow {' '.join(args)}` has no setting {var}")

def port_of(addr):
    return int(addr.rsplit(":", 1)[1])

# --- docker-compose.yml --------------------------------------------------------------------
compose = yaml.safe_load((root / "docker-compose.yml").read_text())
admin_ports = {}

def interpolated(value):
    """${VAR:-default} as compose gives it with VAR unset (the checks must not see the shell's)."""
    return re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", str(value))

for name, service in compose["services"].items():
    if not str(service.get("image", "")).startswith("newsflow"):
        continue
    where = f"docker-compose.yml {name}"
    env = {k: interpolated(v) for k, v in (service.get("environment") or {}).items()}
    entrypoint = service.get("entrypoint") or ["/usr/local/bin/newsflow"]
    binary = pathlib.Path(entrypoint[0]).name
    command = service.get("command") or []
    if binary == "newsflow":
        cli_accepts(where, [c for c in command if not c.startswith("-")], env)
        continue
    shown = check_config(where, binary, command, env)
    if not shown:
        continue
    admin = port_of(shown["admin_addr"])
    admin_ports[name] = admin
    test = " ".join(service.get("healthcheck", {}).get("test", []))
    match = re.search(r"127\.0\.0\.1:(\d+)/readyz", test)
    if not match or int(match.group(1)) != admin:
        fail(where, f"health check {test!r} does not probe /readyz on the admin port {admin}")
    if "listen" in shown:
        published = [str(p).rsplit(":", 1)[-1] for p in service.get("ports", [])]
        if str(port_of(shown["listen"])) not in published:
            fail(where, f"the API port {port_of(shown['listen'])} is not published ({published})")
prometheus = yaml.safe_load((root / "deploy/prometheus/compose.yml").read_text())
for config in prometheus["scrape_configs"][0]["static_configs"]:
    for target in config["targets"]:
        host, port = target.rsplit(":", 1)
        if admin_ports.get(host) != int(port):
            fail("deploy/prometheus/compose.yml", f"target {target} is not {host}'s admin port")

# --- rendered Kubernetes manifests ---------------------------------------------------------
for rendered in sys.argv[2:]:
    docs = [d for d in yaml.safe_load_all(pathlib.Path(rendered).read_text()) if d]
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    def env_of(container, where, mounts):
        env = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env.update(by_kind["ConfigMap"][source["configMapRef"]["name"]]["data"])
            if "secretRef" in source:
                secret = by_kind["Secret"][source["secretRef"]["name"]]
                env.update({k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()})
                env.update(secret.get("stringData", {}))
        for item in container.get("env", []):
            value = item.get("value", "")
            ref = item.get("valueFrom", {})
            if "configMapKeyRef" in ref:
                value = by_kind["ConfigMap"][ref["configMapKeyRef"]["name"]]["data"][ref["configMapKeyRef"]["key"]]
            if "secretKeyRef" in ref:
                name, key = ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"]
                secret = by_kind.get("Secret", {}).get(name)
                if secret is None:
                    # Created out of band (the base leaves it to the operator): a stand-in.
                    value = f"stand-in-for-{name}"
                elif key in secret.get("stringData", {}):
                    value = secret["stringData"][key]
                elif key in secret.get("data", {}):
                    value = base64.b64decode(secret["data"][key]).decode()
                else:
                    fail(where, f"Secret {name} has no key {key}")
            for mount_path, local in mounts.items():
                value = value.replace(mount_path, local)
            env[item["name"]] = value
        return env
    def selects(service, deployment):
        labels = deployment["spec"]["template"]["metadata"].get("labels", {})
        return all(labels.get(k) == v for k, v in service["spec"].get("selector", {}).items())
    def check_api_port(where, name, container_port, listen):
        """The API's containerPort, the Service's http port and the Ingresses that reach it."""
        if container_port != listen:
            fail(where, f"containerPort http {container_port} is not the API port {listen}")
        services = [s for s in by_kind.get("Service", {}).values()
                    if selects(s, by_kind["Deployment"][name])]
        http = [p for s in services for p in s["spec"]["ports"] if p["name"] == "http"]
        if not http or any(p.get("targetPort") not in ("http", listen) for p in http):
            fail(where, f"no Service port http to the API port {listen}")
        for ingress in by_kind.get("Ingress", {}).values():
            for rule in ingress["spec"].get("rules", []):
                for path in rule.get("http", {}).get("paths", []):
                    backend = path["backend"]["service"]
                    service = by_kind.get("Service", {}).get(backend["name"])
                    if service is None or not selects(service, by_kind["Deployment"][name]):
                        continue
                    names = {p["name"]: p["port"] for p in service["spec"]["ports"]}
                    wanted = backend["port"].get("name") or backend["port"].get("number")
                    if wanted not in ("http", names.get("http")):
                        fail(f"{rendered} Ingress/{ingress['metadata']['name']}",
                             f"routes to port {wanted} of {backend['name']}, not its API port http")
    for name, deployment in by_kind.get("Deployment", {}).items():
        where = f"{rendered} Deployment/{name}"
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        with tempfile.TemporaryDirectory() as tmp:
            mounts = {}
            for volume in pod.get("volumes", []):
                if "configMap" in volume:
                    local = pathlib.Path(tmp) / volume["name"]
                    local.mkdir()
                    for file, text in by_kind["ConfigMap"][volume["configMap"]["name"]]["data"].items():
                        (local / file).write_text(text)
                    for mount in container.get("volumeMounts", []):
                        if mount["name"] == volume["name"]:
                            mounts[mount["mountPath"]] = str(local)
            env = env_of(container, where, mounts)
            binary = pathlib.Path(container["command"][0]).name
            shown = check_config(where, binary, container.get("args", []), env)
        if not shown:
            continue
        admin = port_of(shown["admin_addr"])
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        if ports.get("admin") != admin:
            fail(where, f"containerPort admin {ports.get('admin')} is not the admin port {admin}")
        for probe, path in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")]:
            get = container.get(probe, {}).get("httpGet", {})
            if get.get("path") != path or get.get("port") not in ("admin", admin):
                fail(where, f"{probe} should GET {path} on the admin port")
        if "listen" in shown:
            check_api_port(where, name, ports.get("http"), port_of(shown["listen"]))
        grace = pod.get("terminationGracePeriodSeconds", 30)
        # The stages drain for drain_timeout; the gateway's longest request waits ack_timeout.
        drain = shown.get("drain_timeout", shown.get("ack_timeout", "?"))
        if not drain.endswith("s") or grace <= int(drain[:-1]):
            fail(where, f"terminationGracePeriodSeconds {grace} is not above the drain timeout {drain}")
        scaled = by_kind.get("ScaledObject", {}).get(name)
        if scaled is None:
            fail(where, "no ScaledObject")
            continue
        for trigger in scaled["spec"]["triggers"]:
            metadata = trigger["metadata"]
            if trigger["type"] == "kafka":
                if metadata["consumerGroup"] != shown.get("group_id"):
                    fail(where, f"KEDA watches group {metadata['consumerGroup']}, the service uses {shown.get('group_id')}")
                # The clusterer reads duplicate notices too (the deduplicator writes them).
                inputs = [shown.get("input_topic")]
                if binary == "newsflow-clusterer":
                    inputs.append(shown.get("duplicates_topic"))
                if metadata["topic"] not in inputs:
                    fail(where, f"KEDA watches {metadata['topic']}, the service reads {inputs}")
            elif trigger["type"] == "prometheus":
                # A ServiceMonitor's series carry job=<the Service's name>.
                jobs = set(re.findall(r'job="([^"]+)"', metadata["query"]))
                scraped = {s for s, service in by_kind.get("Service", {}).items()
                           if s in by_kind.get("ServiceMonitor", {}) and selects(service, deployment)}
                if not jobs or not jobs <= scraped:
                    fail(where, f"KEDA's query selects job {sorted(jobs)}, the scraped Services of it are {sorted(scraped)}")
            elif trigger["type"] == "cpu" and "cpu" not in container.get("resources", {}).get("requests", {}):
                fail(where, "KEDA scales on CPU but the container requests none")
    for name, job in by_kind.get("Job", {}).items():
        container = job["spec"]["template"]["spec"]["containers"][0]
        cli_accepts(f"{rendered} Job/{name}", [a for a in container.get("args", []) if not a.startswith("-")],
                    env_of(container, name, {}))

for failure in failures:
    print("FAIL", failure)
print(f"deployed configuration: {len(failures)} problems")
sys.exit(1 if failures else 0)
