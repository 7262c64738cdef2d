#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# What tests of this checkout could have left behind, one line each, for tests/run.sh to
# compare before and after every test:
#   KIND<TAB>KEY<TAB>DESCRIPTION
# Only what a test of this checkout and run can have made is listed, so that tests of other
# checkouts running on the same machine at the same time are never blamed (or touched):
#   process  PID   - a process (not a zombie) that carries HB_RUN_ID=RUN in its environment,
#                    or (a program that cleared its environment) an orphan, adopted by init
#                    or systemd, whose executable is under ROOT, or that runs from ROOT (cwd
#                    or an argument) in another network namespace than run.sh's; and is
#                    not run.sh itself or one of its descendants
#   netns    NAME  - /run/netns/RUNt*: names made from the HB_TEST_ID that _lib.sh derives
#                    from HB_RUN_ID
#   cgroup   PATH  - a cgroup v2 directory named RUNt*
#   bpffs    PATH  - an entry of the bpffs mount named RUNt* (a test's HB_PIN_DIR)
#   policy   ID    - a kernel policy (hbctl policy ls -j) on a cgroup whose path has RUNt*
#   tmp      PATH  - /tmp/RUNt* (a test's HB_TMP)
# Usage: tests/leftovers.py ROOT RUN EXCLUDE_PID [HBCTL]
import json
import os
import subprocess
import sys


def read(path, mode="rb"):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    # names are bytes (a test gives its programs odd ones on purpose)
    return data if mode == "rb" else data.decode(errors="replace")


def under(path, root):
    return path is not None and (path == root or path.startswith(root + "/"))


def orphan(pid, parent):
    """Adopted by init or by a subreaper (a service manager)."""
    pp = parent.get(pid, 0)
    return pp <= 1 or (read("/proc/%d/comm" % pp, "r") or "").strip() in ("systemd", "init")


def processes(root, run, exclude):
    tag = ("HB_RUN_ID=" + run).encode()
    parent, info, mine = {}, {}, {}
    own_ns = os.readlink("/proc/self/ns/net")
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        stat = read("/proc/%d/stat" % pid, "r")
        if not stat:
            continue
        # the name is in parentheses and may hold spaces: fields follow the last ')'
        rest = stat[stat.rfind(")") + 2:].split()
        state, ppid = rest[0], int(rest[1])
        parent[pid] = ppid
        if state in ("Z", "X"):
            continue
        env = read("/proc/%d/environ" % pid) or b""
        cmd = (read("/proc/%d/cmdline" % pid) or b"").split(b"\0")
        args = [a.decode(errors="replace") for a in cmd if a]
        if not args:
            continue  # a kernel thread
        try:
            cwd = os.readlink("/proc/%d/cwd" % pid)
        except OSError:
            cwd = None
        try:
            exe = os.readlink("/proc/%d/exe" % pid)
        except OSError:
            exe = None
        tagged = tag in env.split(b"\0")
        try:
            ns = os.readlink("/proc/%d/ns/net" % pid)
        except OSError:
            ns = "?"
        # untagged (a program that cleared its environment): only a program of the checkout
        # (a helper, hbctl) or one in another network namespace (a test's) is a test's; a
        # shell or an editor someone runs in the checkout meanwhile is neither
        if tagged or ((under(cwd, root) or any(root + "/" in a for a in args)) and
                      (under(exe, root) or ns != own_ns)) or under(exe, root):
            mine[pid] = tagged
            info[pid] = "%d %s (cwd %s, %s)" % (pid, " ".join(args)[:200], cwd, ns)
    for pid, desc in sorted(info.items()):
        p, seen = pid, 0
        while p > 1 and p != exclude and seen < 4096:
            p = parent.get(p, 0)
            seen += 1
        # run.sh's own tree is the harness (and this script), not a leftover. An untagged
        # process counts only as an orphan: a test's leftover outlives its parent, the test,
        # while a shell or a build that someone runs in the checkout meanwhile has a parent
        if p == exclude or (not mine[pid] and not orphan(pid, parent)):
            continue
        yield "process", str(pid), desc


def cgroup2_mount():
    for line in (read("/proc/self/mountinfo", "r") or "").splitlines():
        f = line.split()
        if "-" in f:
            i = f.index("-")
            if i + 1 < len(f) and f[i + 1] == "cgroup2":
                return f[4]
    return None


def bpffs_mount():
    for line in (read("/proc/self/mountinfo", "r") or "").splitlines():
        f = line.split()
        if "-" in f:
            i = f.index("-")
            if i + 1 < len(f) and f[i + 1] == "bpf":
                return f[4]
    return None


def main():
    root, run, exclude = os.path.realpath(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    hbctl = sys.argv[4] if len(sys.argv) > 4 else None
    prefix = run + "t"
    out = list(processes(root, run, exclude))
    try:
        out += [("netns", n, "network namespace " + n)
                for n in os.listdir("/run/netns") if n.startswith(prefix)]
    except OSError:
        pass
    cg = cgroup2_mount()
    if cg:
        for d, subdirs, _ in os.walk(cg):
            keep = []
            for s in subdirs:
                if s.startswith(prefix):
                    out.append(("cgroup", os.path.join(d, s), "cgroup " + os.path.join(d, s)))
                else:
                    keep.append(s)
            subdirs[:] = keep
    bpf = bpffs_mount()
    if bpf:
        try:
            out += [("bpffs", os.path.join(bpf, n), "bpffs " + os.path.join(bpf, n))
                    for n in os.listdir(bpf) if n.startswith(prefix)]
        except OSError:
            pass
    if hbctl and os.access(hbctl, os.X_OK) and os.geteuid() == 0:
        env = dict(os.environ)
        env.pop("HB_PIN_DIR", None)
        try:
            r = subprocess.run([hbctl, "policy", "ls", "-j"], capture_output=True, env=env,
                               timeout=20)
            for p in json.loads(r.stdout or b"[]"):
                c = p.get("cgroup") or ""
                if "/" + prefix in c:
                    out.append(("policy", str(p["id"]), "kernel policy %s on %s (%s)" %
                                (p["id"], c, p.get("state"))))
        except (OSError, ValueError, subprocess.SubprocessError):
            pass
    try:
        out += [("tmp", "/tmp/" + n, "/tmp/" + n) for n in os.listdir("/tmp")
                if n.startswith(prefix)]
    except OSError:
        pass
    for kind, key, desc in sorted(out):
        print("%s\t%s\t%s" % (kind, key, desc.replace("\t", " ").replace("\n", " ")))


main()
