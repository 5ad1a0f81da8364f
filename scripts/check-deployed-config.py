#!/usr/bin/env python3
"""Runs every service binary with exactly the flags and environment that docker-compose.yml and
the rendered Kubernetes manifests give it, and checks that each setting took effect.

`--check-config` validates everything and prints the effective configuration; every NEWSFLOW_*
variable given must show up there with its value (so a renamed variable, which clap would
silently ignore, fails). Ports of health checks, probes and scrape targets must match the
admin address; KEDA's consumer group and topic must be the service's.

usage: check-deployed-config.py BINARIES_DIR RENDERED_K8S.yaml…
"""
import os, pathlib, re, subprocess, sys, tempfile
import yaml

root = pathlib.Path(__file__).resolve().parent.parent
binaries = pathlib.Path(sys.argv[1])
failures = []

def fail(where, message):
    failures.append(f"{where}: {message}")

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
    shown = dict(line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)
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
        key = var[len("NEWSFLOW_"):].lower()
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
for name, service in compose["services"].items():
    if not str(service.get("image", "")).startswith("newsflow"):
        continue
    where = f"docker-compose.yml {name}"
    env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
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
                import base64
                env.update({k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()})
                env.update(secret.get("stringData", {}))
        for item in container.get("env", []):
            value = item.get("value", "")
            ref = item.get("valueFrom", {})
            if "configMapKeyRef" in ref:
                value = by_kind["ConfigMap"][ref["configMapKeyRef"]["name"]]["data"][ref["configMapKeyRef"]["key"]]
            for mount_path, local in mounts.items():
                value = value.replace(mount_path, local)
            env[item["name"]] = value
        return env
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
        grace = pod.get("terminationGracePeriodSeconds", 30)
        drain = shown["drain_timeout"]
        if not drain.endswith("s") or grace <= int(drain[:-1]):
            fail(where, f"terminationGracePeriodSeconds {grace} is not above the drain timeout {drain}")
        scaled = by_kind.get("ScaledObject", {}).get(name)
        if scaled is None:
            fail(where, "no ScaledObject")
        else:
            trigger = scaled["spec"]["triggers"][0]["metadata"]
            if trigger["consumerGroup"] != shown["group_id"]:
                fail(where, f"KEDA watches group {trigger['consumerGroup']}, the service uses {shown['group_id']}")
            if trigger["topic"] != shown["input_topic"]:
                fail(where, f"KEDA watches {trigger['topic']}, the service reads {shown['input_topic']}")
    for name, job in by_kind.get("Job", {}).items():
        container = job["spec"]["template"]["spec"]["containers"][0]
        cli_accepts(f"{rendered} Job/{name}", [a for a in container.get("args", []) if not a.startswith("-")],
                    env_of(container, name, {}))

for failure in failures:
    print("FAIL", failure)
print(f"deployed configuration: {len(failures)} problems")
sys.exit(1 if failures else 0)
