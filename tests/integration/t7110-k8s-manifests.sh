#!/bin/bash
# The manifests of deploy/kubernetes are well-formed (tests/deploy/manifest.py validate):
# apiVersion, kind and metadata.name; containers with image and command; volumes that the
# mounts name; the envcryptfs sidecar an init container with restartPolicy: Always, in the
# foreground, privileged for its Bidirectional mount, with startup, readiness and liveness
# probes (envcryptfsctl status MNT --json --timeout N) and a preStop unmount of its own mount
# point, made by an init container before it; apps receiving the mount with
# HostToContainer; and every command of the envcryptfs image installed by
# deploy/container/Containerfile (its tools, its runtime packages' programs, or the base
# image's Essential ones). Then each of a list of broken copies must be refused, with the
# reason. (make check-deploy plays the manifests.)
. "$ECFS_TESTS/lib.sh"
need_progs
command -v dpkg >/dev/null || skip "not a Debian system (dpkg missing)"
PYTHON=
for py in /usr/bin/python3 python3; do
  "$py" -c 'import yaml' 2>/dev/null && { PYTHON=$py; break; }
done
[ -n "$PYTHON" ] || skip "no python3 with PyYAML (Debian: python3-yaml)"

top=$(cd "$ECFS_TESTS/../.." && pwd)
k8s=$top/deploy/kubernetes
manifest() { "$PYTHON" "$top/tests/deploy/manifest.py" "$@"; }

note "the commands the image provides"
for f in "$ECFS_BIN"/*; do [ -f "$f" ] && [ -x "$f" ] && basename "$f"; done >"$T/provided"
mapfile -t pkgs < <("$PYTHON" "$top/tests/deploy/containerfile.py" packages \
  "$top/deploy/container/Containerfile" runtime)
mapfile -t -O ${#pkgs[@]} pkgs < <(dpkg-query -W -f='${Package} ${Essential}\n' | awk '$2 == "yes" {print $1}')
dpkg -L "${pkgs[@]}" 2>/dev/null | grep -E '/s?bin/[^/]+$' | sed 's,.*/,,' >>"$T/provided"
for c in envcryptfs envcryptfsctl fusermount3 mkdir; do
  grep -qx "$c" "$T/provided" || fail "'$c' is not among the commands the image provides"
done
! grep -qx curl "$T/provided" || fail "curl (not installed, only libcurl4) counted as provided: the check is too loose"

note "the shipped manifests pass"
manifest validate --provided "$T/provided" "$k8s"/*.yaml || fail "the manifests above are refused"

# broken FILE EXPECTED PYTHON: the manifest changed by PYTHON (d is the list of documents)
# is refused, saying EXPECTED.
broken() {
  local file=$1 want=$2 code=$3 rc=0
  "$PYTHON" - "$k8s/$file" "$T/broken.yaml" "$code" <<'PY'
import sys, yaml
d = list(yaml.safe_load_all(open(sys.argv[1])))
def ctr(name):
    for doc in d:
        spec = doc["spec"].get("template", {}).get("spec", doc["spec"])
        for c in spec.get("initContainers", []) + spec.get("containers", []):
            if c["name"] == name:
                return c
exec(sys.argv[3])
yaml.safe_dump_all(d, open(sys.argv[2], "w"))
PY
  manifest validate --provided "$T/provided" "$T/broken.yaml" 2>"$T/stderr" || rc=$?
  [ "$rc" -eq 1 ] || fail "$file changed by '$code' is accepted (exit $rc)"
  stderr_has "$want"
}

note "broken copies are refused"
broken sidecar-pod.yaml "restartPolicy: Always" 'del ctr("envcryptfs")["restartPolicy"]'
broken sidecar-pod.yaml "no metadata.name" 'del d[0]["metadata"]["name"]'
broken sidecar-pod.yaml "no image" 'del ctr("app")["image"]'
broken sidecar-pod.yaml "no command" 'del ctr("app")["command"]'
broken sidecar-pod.yaml "which the pod does not define" 'd[0]["spec"]["volumes"].pop(0)'
broken sidecar-pod.yaml "needs privileged: true" 'del ctr("envcryptfs")["securityContext"]'
broken sidecar-pod.yaml "startupProbe must run" 'ctr("envcryptfs")["startupProbe"]["exec"]["command"][2] = "/shared"'
broken sidecar-pod.yaml "livenessProbe must run" 'del ctr("envcryptfs")["livenessProbe"]'
broken sidecar-pod.yaml "preStop must unmount" 'del ctr("envcryptfs")["lifecycle"]'
broken sidecar-pod.yaml "does not install" 'ctr("envcryptfs")["lifecycle"]["preStop"]["exec"]["command"][0] = "curl"'
broken sidecar-pod.yaml "foreground" 'ctr("envcryptfs")["command"].remove("-f")'
broken sidecar-pod.yaml "creates the mount point" 'd[0]["spec"]["initContainers"].pop(0)'
broken sidecar-pod.yaml "below a Bidirectional volume mount" 'del ctr("envcryptfs")["volumeMounts"][0]["mountPropagation"]'
broken sidecar-pod.yaml "key_file" 'ctr("envcryptfs")["volumeMounts"].pop(2); d[0]["spec"]["volumes"].pop(2)'
broken sidecar-pod.yaml "HostToContainer" 'del ctr("app")["volumeMounts"][0]["mountPropagation"]'
broken daemonset.yaml "HostToContainer" 'del ctr("app")["volumeMounts"][0]["mountPropagation"]'
broken daemonset.yaml "no apiVersion" 'del d[1]["apiVersion"]'
broken daemonset.yaml "readinessProbe must run" 'ctr("data")["readinessProbe"]["exec"]["command"].pop()'

note "the KMS options the manifests' comments name are the daemon's"
for opt in $(grep -oh 'kms_[a-z_]*=' "$k8s"/*.yaml | sort -u); do
  grep -q "^\.BI ${opt%=}= " "$top/man/envcryptfs.8" || fail "the manifests name -o $opt, which envcryptfs(8) does not document"
done
[ -n "$(grep -oh 'kms_role=' "$k8s"/sidecar-pod.yaml)" ] || fail "the sidecar pod shows no Vault Kubernetes-auth variant"
