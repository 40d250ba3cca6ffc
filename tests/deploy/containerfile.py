#!/usr/bin/env python3
"""Reads deploy/container/Containerfile for the tests that keep it in step with the build:
  packages FILE build|runtime   the Debian packages a stage installs with apt-get install
  copies FILE                   the runtime stage's "COPY --from=build SRC DST" pairs
The build stage is the one named "build"; the runtime stage is the last one."""
import shlex
import sys


def stages(path):
    """[(name, [instruction words])] with continuation lines joined and comments dropped."""
    out, cur = [], ""
    for line in open(path):
        s = line.strip()
        if s.startswith("#") and not cur:
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        if cur:
            words = shlex.split(cur)
            if words[0].upper() == "FROM":
                name = words[3] if len(words) > 3 and words[2].upper() == "AS" else ""
                out.append((name, []))
            elif out:
                out[-1][1].append(words)
        cur = ""
    return out


def stage(path, which):
    st = stages(path)
    if which == "build":
        found = [s for s in st if s[0] == "build"]
        return found[0][1] if found else []
    return st[-1][1] if st else []


def packages(instrs):
    pkgs = []
    for words in instrs:
        if words[0].upper() != "RUN":
            continue
        for cmd in " ".join(words[1:]).split("&&"):
            w = cmd.split()
            if "apt-get" in w and "install" in w:
                pkgs += [a for a in w[w.index("install") + 1:] if not a.startswith("-")]
    return pkgs


def main():
    what, path = sys.argv[1], sys.argv[2]
    if what == "packages":
        print("\n".join(packages(stage(path, sys.argv[3]))))
    elif what == "copies":
        for w in stage(path, "runtime"):
            if w[0].upper() == "COPY" and "--from=build" in w:
                print(w[-2], w[-1])
    else:
        sys.exit(f"containerfile.py: unknown request '{what}'")


if __name__ == "__main__":
    main()
