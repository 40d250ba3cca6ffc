#!/usr/bin/env python3
"""Reads the Kubernetes manifests of deploy/kubernetes for the deploy tests: checks their
structure, and tells the namespace plays (play.inc) what the kubelet and the container
runtime would do with them: each container's bind mounts and the commands of its probes and
hooks, with container paths rewritten to the scratch directories that stand in for them.

Paths on the stand-in node: NODE is the node's directory (shared propagation), CTRS holds
one root per container (CTRS/POD/CONTAINER), under which each mountPath is bound."""
import argparse
import os
import re
import sys

import yaml

WORKLOADS = ("DaemonSet", "Deployment", "StatefulSet", "ReplicaSet", "Job")
PROPAGATIONS = ("None", "HostToContainer", "Bidirectional")
VOLUME_TYPES = ("emptyDir", "hostPath", "secret", "persistentVolumeClaim")
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
SERVER = "envcryptfs"


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def pods(docs):
    """(pod name, pod spec) of every object that runs containers."""
    for d in docs:
        kind = d.get("kind")
        name = (d.get("metadata") or {}).get("name")
        if kind == "Pod":
            yield name, d.get("spec") or {}
        elif kind in WORKLOADS:
            yield name, ((d.get("spec") or {}).get("template") or {}).get("spec") or {}


def containers(spec):
    """(role, container) in start order: init, sidecar (restartPolicy Always), app."""
    for c in spec.get("initContainers") or []:
        yield ("sidecar" if c.get("restartPolicy") == "Always" else "init"), c
    for c in spec.get("containers") or []:
        yield "app", c


def find(docs, pod, ctr):
    for name, spec in pods(docs):
        if name == pod:
            for _, c in containers(spec):
                if c.get("name") == ctr:
                    return spec, c
    sys.exit(f"manifest.py: no container {pod}/{ctr}")


def volume_node_path(pod, vol, node):
    """Where the kubelet keeps a volume's files on the node."""
    if "hostPath" in vol:
        return node + vol["hostPath"]["path"]
    if "persistentVolumeClaim" in vol:
        return f"{node}/pvc/{vol['persistentVolumeClaim']['claimName']}"
    kind = "empty-dir" if "emptyDir" in vol else "secret"
    return f"{node}/pods/{pod}/volumes/kubernetes.io~{kind}/{vol['name']}"


def mounts(pod, spec, ctr, node, ctrs):
    """(node path, container root path, mountPath, propagation, readOnly, hostPath type)."""
    vols = {v["name"]: v for v in spec.get("volumes") or []}
    root = f"{ctrs}/{pod}/{ctr['name']}"
    for m in ctr.get("volumeMounts") or []:
        v = vols.get(m.get("name"))
        if v is None or not any(t in v for t in VOLUME_TYPES):
            continue  # validate reports it
        yield (volume_node_path(pod, v, node), root + m["mountPath"], m["mountPath"],
               m.get("mountPropagation", "None"), bool(m.get("readOnly")),
               (v.get("hostPath") or {}).get("type", ""))


def under(path, top):
    return path == top or path.startswith(top.rstrip("/") + "/")


def rewrite(arg, mlist):
    """Container paths in arg (whole arguments and option values such as key_file=) become
    the stand-in paths; other paths stay as they are."""
    def one(m):
        p = m.group(2)
        for _, root, mp, *_ in sorted(mlist, key=lambda x: -len(x[2])):
            if under(p, mp):
                return m.group(1) + root + p[len(mp.rstrip("/")):]
        return m.group(0)
    return re.sub(r"(^|[=,:])(/[^,=:\s]*)", one, arg)


def to_node(path, mlist):
    """The node path of a container path, or None when no volume holds it."""
    for nodep, _, mp, *_ in sorted(mlist, key=lambda x: -len(x[2])):
        if under(path, mp):
            return nodep + path[len(mp.rstrip("/")):]
    return None


def argv_of(ctr, what):
    if what == "command":
        return ctr.get("command") or []
    if what == "preStop":
        return (((ctr.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
    return ((ctr.get(what) or {}).get("exec") or {}).get("command") or []


def server_paths(argv):
    """The backing directory, the mount point and the -o options of an envcryptfs command."""
    pos, opts, i = [], [], 1
    while i < len(argv):
        if argv[i] == "-o" and i + 1 < len(argv):
            opts += argv[i + 1].split(",")
            i += 2
            continue
        if not argv[i].startswith("-"):
            pos.append(argv[i])
        i += 1
    return (pos + [None, None])[:2] + [opts]


# ---- validation ---------------------------------------------------------------------------

class Checker:
    def __init__(self, provided, image_match):
        self.errors = []
        self.provided = provided
        self.image_match = image_match

    def err(self, where, msg):
        self.errors.append(f"{where}: {msg}")

    def doc(self, where, d):
        for field in ("apiVersion", "kind"):
            if not isinstance(d.get(field), str) or not d[field]:
                self.err(where, f"no {field}")
        if not isinstance((d.get("metadata") or {}).get("name"), str):
            self.err(where, "no metadata.name")

    def pod(self, where, name, spec):
        vols = {v.get("name"): v for v in spec.get("volumes") or []}
        for vname, v in vols.items():
            types = [t for t in VOLUME_TYPES if t in v]
            if len(types) != 1:
                self.err(f"{where} volume {vname}", f"needs one of {', '.join(VOLUME_TYPES)}")
        if not spec.get("containers"):
            self.err(where, "no containers")
        seen = set()
        for role, c in containers(spec):
            cw = f"{where}/{c.get('name')}"
            if c.get("name") in seen or not c.get("name"):
                self.err(cw, "container name missing or repeated")
            seen.add(c.get("name"))
            self.container(cw, c, vols)
            if argv_of(c, "command")[:1] == [SERVER]:
                self.server(cw, name, spec, role, c)

    def container(self, where, c, vols):
        if not isinstance(c.get("image"), str) or not c["image"]:
            self.err(where, "no image")
        cmd = c.get("command")
        if not (isinstance(cmd, list) and cmd and all(isinstance(a, str) for a in cmd)):
            self.err(where, "no command (a list of strings)")
        for m in c.get("volumeMounts") or []:
            if m.get("name") not in vols:
                self.err(where, f"mounts volume '{m.get('name')}', which the pod does not define")
            prop = m.get("mountPropagation", "None")
            if prop not in PROPAGATIONS:
                self.err(where, f"unknown mountPropagation '{prop}'")
            if prop == "Bidirectional" and not (c.get("securityContext") or {}).get("privileged"):
                self.err(where, "Bidirectional propagation needs privileged: true")
        if self.image_match in str(c.get("image")):
            for what in ("command", "preStop") + PROBES:
                argv = argv_of(c, what)
                if argv and argv[0] not in self.provided:
                    self.err(where, f"{what} runs '{argv[0]}', which the container image does not install")

    def consumers(self, where, docs):
        """Every app container that mounts a volume holding an envcryptfs mount point (by
        node path: the same emptyDir, or a hostPath above it) receives it with
        HostToContainer, so that it sees the mount made after it started, and the new
        one after a restart."""
        mnts = []
        for pod, spec in pods(docs):
            for _, c in containers(spec):
                if argv_of(c, "command")[:1] == [SERVER]:
                    mnt = server_paths(argv_of(c, "command"))[1]
                    node = to_node(mnt or "", list(mounts(pod, spec, c, "", "")))
                    if node:
                        mnts.append(node)
        if not mnts:
            self.err(where, "runs no envcryptfs container")
        for pod, spec in pods(docs):
            for role, c in containers(spec):
                if role != "app" or argv_of(c, "command")[:1] == [SERVER]:
                    continue
                for nodep, _, mp, prop, *_ in mounts(pod, spec, c, "", ""):
                    if any(under(m, nodep) for m in mnts) and prop != "HostToContainer":
                        self.err(f"{where} {pod}/{c.get('name')}",
                                 f"{mp} holds an envcryptfs mount: it needs mountPropagation: HostToContainer")

    def server(self, where, pod, spec, role, c):
        if role == "init":
            self.err(where, "the envcryptfs init container needs restartPolicy: Always (a native sidecar)")
        cmd = argv_of(c, "command")
        backing, mnt, opts = server_paths(cmd)
        if "-f" not in cmd:
            self.err(where, "envcryptfs must run in the foreground (-f)")
        if not mnt:
            self.err(where, "envcryptfs command names no mount point")
            return
        want = ["envcryptfsctl", "status", mnt, "--json", "--timeout"]
        for probe in PROBES:
            argv = argv_of(c, probe)
            if argv[:5] != want or len(argv) != 6:
                self.err(where, f"{probe} must run {' '.join(want)} N")
        if argv_of(c, "preStop")[-1:] != [mnt]:
            self.err(where, f"preStop must unmount {mnt}")
        ml = list(mounts(pod, spec, c, "", ""))
        hold = [m for m in ml if under(mnt, m[2]) and mnt != m[2]]
        if not hold or hold[0][3] != "Bidirectional":
            self.err(where, f"the mount point {mnt} must lie below a Bidirectional volume mount")
        for path, what in [(backing, "backing directory")] + [
                (o.split("=", 1)[1], o.split("=", 1)[0]) for o in opts if o.startswith("key_file=")]:
            if not path or to_node(path, ml) is None:
                self.err(where, f"the {what} {path} is on no volume")
        made = False
        for r, ic in containers(spec):
            if ic is c:
                break
            a = argv_of(ic, "command")
            node_mnt = to_node(mnt, ml)
            if r == "init" and a[:2] == ["mkdir", "-p"] and any(
                    to_node(p, list(mounts(pod, spec, ic, "", ""))) == node_mnt for p in a[2:]):
                made = True
        if not made:
            self.err(where, f"no init container before it creates the mount point {mnt} (mkdir -p)")


def cmd_validate(args):
    provided = set(open(args.provided).read().split())
    ck = Checker(provided, args.image_match)
    for path in args.files:
        try:
            docs = load(path)
            for i, d in enumerate(docs):
                where = f"{os.path.basename(path)}[{i}] {d.get('kind')}/{(d.get('metadata') or {}).get('name')}"
                ck.doc(where, d)
            for name, spec in pods(docs):
                ck.pod(f"{os.path.basename(path)} {name}", name, spec)
            ck.consumers(os.path.basename(path), docs)
        except (yaml.YAMLError, AttributeError, KeyError, TypeError) as e:
            ck.err(path, f"malformed ({type(e).__name__}: {e})")
    for e in ck.errors:
        print(e, file=sys.stderr)
    return 1 if ck.errors else 0


# ---- what the plays need ------------------------------------------------------------------

def cmd_mounts(args):
    spec, c = find(load(args.file), args.pod, args.ctr)
    for nodep, root, _, prop, ro, htype in mounts(args.pod, spec, c, args.node, args.ctrs):
        print("\t".join([nodep, root, args.propagation or prop, "ro" if ro else "rw", htype or "-"]))


def cmd_argv(args):
    spec, c = find(load(args.file), args.pod, args.ctr)
    ml = list(mounts(args.pod, spec, c, args.node, args.ctrs))
    argv = argv_of(c, args.what)
    if not argv:
        sys.exit(f"manifest.py: {args.pod}/{args.ctr} has no {args.what}")
    sys.stdout.write("".join(rewrite(a, ml) + "\0" for a in argv))


def cmd_locate(args):
    """The stand-in path at which app container APPCTR sees server SRVCTR's mount point."""
    docs = load(args.file)
    spec, c = find(docs, args.pod, args.ctr)
    node_mnt = to_node(server_paths(argv_of(c, "command"))[1],
                       list(mounts(args.pod, spec, c, args.node, args.ctrs)))
    aspec, ac = find(docs, args.apppod, args.appctr)
    for nodep, root, *_ in mounts(args.apppod, aspec, ac, args.node, args.ctrs):
        if under(node_mnt, nodep):
            print(root + node_mnt[len(nodep):])
            return 0
    sys.exit(f"manifest.py: {args.apppod}/{args.appctr} mounts no volume holding {node_mnt}")


def cmd_containers(args):
    """The pod's containers in start order, one "ROLE NAME" line each."""
    for name, spec in pods(load(args.file)):
        if name == args.pod:
            for role, c in containers(spec):
                print(role, c["name"])
            return 0
    sys.exit(f"manifest.py: no pod {args.pod}")


def cmd_server(args):
    """The backing directory, the mount point and the key file of an envcryptfs container, as
    container paths on one tab-separated line."""
    _, c = find(load(args.file), args.pod, args.ctr)
    backing, mnt, opts = server_paths(argv_of(c, "command"))
    keys = [o.split("=", 1)[1] for o in opts if o.startswith("key_file=")]
    print("\t".join([backing or "", mnt or "", (keys + [""])[0]]))


def cmd_nodepath(args):
    """The node path of container path PATH of POD/CTR."""
    spec, c = find(load(args.file), args.pod, args.ctr)
    p = to_node(args.path, list(mounts(args.pod, spec, c, args.node, "")))
    if p is None:
        sys.exit(f"manifest.py: {args.path} is on no volume of {args.pod}/{args.ctr}")
    print(p)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("validate")
    v.add_argument("--provided", required=True, help="file listing the commands the image installs")
    v.add_argument("--image-match", default="envcryptfs")
    v.add_argument("files", nargs="+")
    v.set_defaults(fn=cmd_validate)
    for name, fn, extra in (("mounts", cmd_mounts, ["node", "ctrs"]),
                            ("argv", cmd_argv, ["what", "node", "ctrs"]),
                            ("locate", cmd_locate, ["apppod", "appctr", "node", "ctrs"]),
                            ("nodepath", cmd_nodepath, ["path", "node"]),
                            ("server", cmd_server, [])):
        p = sub.add_parser(name)
        for a in ["file", "pod", "ctr"] + extra:
            p.add_argument(a)
        if name == "mounts":
            p.add_argument("--propagation", choices=PROPAGATIONS)
        p.set_defaults(fn=fn)
    c = sub.add_parser("containers")
    c.add_argument("file")
    c.add_argument("pod")
    c.set_defaults(fn=cmd_containers)
    args = ap.parse_args()
    return args.fn(args) or 0


if __name__ == "__main__":
    sys.exit(main())
