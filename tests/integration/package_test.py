#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks of the package's units and of deploy/, for run_package.sh.

  package_test.py units ROOT          the hardening each unit must have
  package_test.py kube DIR            deploy/kubernetes parses as YAML and
                                      has the kinds and fields it must
  package_test.py exec ROOT UNIT [INSTANCE]
                                      run UNIT's ExecStart from the
                                      unpacked package in ROOT as systemd
                                      would: its Environment= and
                                      EnvironmentFile= settings, specifiers,
                                      ${VAR} and $VAR expanded; absolute
                                      paths of the package (/usr/bin,
                                      /etc/weir, /var/lib/weir) taken under
                                      ROOT. This process becomes the
                                      program (same pid), as the unit's
                                      User=/Group= (ids from ROOT's
                                      /etc/passwd and /etc/group, with the
                                      user's other groups there), after
                                      its StateDirectory= is made and its
                                      InaccessiblePaths= are hidden in a
                                      mount namespace of its own.
  package_test.py proxy LISTEN TARGET a unix socket LISTEN (mode 0777) that
                                      forwards each connection to the
                                      unix socket TARGET: a stand-in for a
                                      local PostgreSQL socket that anyone
                                      who reaches it may use.

No systemd runs as PID 1 here, so `exec` follows systemd.service(5) and
systemd.exec(5) for what these units use; the units' syntax is checked by
systemd-analyze verify itself.
"""
import ctypes
import os
import re
import socket
import subprocess
import sys
import threading

UNIT_DIR = "lib/systemd/system"
ROOTED = ("/usr/bin/", "/etc/weir/", "/etc/weir", "/var/lib/weir",
          "/run/postgresql", "/var/run/postgresql")

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def parse_unit(path):
    """The unit's sections: {section: [(key, value), ...]} in order."""
    sections, cur = {}, None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                cur = sections.setdefault(line[1:-1], [])
                continue
            key, _, value = line.partition("=")
            cur.append((key.strip(), value.strip()))
    return sections


def values(section, key):
    return [v for k, v in section if k == key]


# Every unit: these settings, exactly (docs/deploy.md lists them).
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
    "Restart": "on-failure",
}
# Each unit's user and group: the server's own, and the workers' (whose
# steps must not act as the server).
USER = {
    "weir-server.service": "weir",
    "weir-worker@.service": "weir-worker",
}
# What each unit must not see at all ("-": fine if absent): the server's
# settings and the local PostgreSQL socket folders, for the workers.
INACCESSIBLE = {
    "weir-server.service": [],
    "weir-worker@.service": ["-/etc/weir/server.env", "-/run/postgresql",
                             "-/var/run/postgresql"],
}
# The only writable paths each unit gets.
WRITABLE = {
    "weir-server.service": ["/var/lib/weir"],
    "weir-worker@.service": ["/var/lib/weir/scratch/%i"],
}


def check_units(root):
    for unit, writable in WRITABLE.items():
        path = os.path.join(root, UNIT_DIR, unit)
        if not os.path.exists(path):
            fail(f"{unit}: not in the package")
            continue
        svc = parse_unit(path).get("Service", [])
        want_user = {"User": USER[unit], "Group": USER[unit]}
        for key, want in {**want_user, **HARDENING}.items():
            got = values(svc, key)
            if got != [want]:
                fail(f"{unit}: {key}= is {got}, want [{want!r}]")
        hidden = " ".join(values(svc, "InaccessiblePaths")).split()
        if sorted(hidden) != sorted(INACCESSIBLE[unit]):
            fail(f"{unit}: InaccessiblePaths {hidden}, "
                 f"want {INACCESSIBLE[unit]}")
        rw = " ".join(values(svc, "ReadWritePaths")).split()
        if rw != writable:
            fail(f"{unit}: ReadWritePaths {rw}, want {writable}")
        state = ["/var/lib/" + d for d in " ".join(
            values(svc, "StateDirectory")).split()]
        if state != writable:
            fail(f"{unit}: StateDirectory {state}, want {writable}")
        files = values(svc, "EnvironmentFile")
        if not files or not all(f.lstrip("-").startswith("/etc/weir/")
                                for f in files):
            fail(f"{unit}: EnvironmentFile {files}, want files of /etc/weir")
        start = " ".join(values(svc, "ExecStart"))
        if "TOKEN=" in start or re.search(r"--token(?!-file)", start):
            fail(f"{unit}: ExecStart passes a token in argv: {start}")
    if not failures:
        print("units: users, hardening, hidden and writable paths and "
              "environment files ok")


def _kinds(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def _container(deploy):
    return deploy["spec"]["template"]["spec"]["containers"][0]


def check_kube(folder):
    import yaml

    docs = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            try:
                docs += [d for d in yaml.safe_load_all(f) if d is not None]
            except yaml.YAMLError as e:
                fail(f"{name}: not YAML: {e}")
    deploys = {d["metadata"]["name"]: d for d in _kinds(docs, "Deployment")}
    server, worker = deploys.get("weir-server"), deploys.get("weir-worker")
    secrets = {d["metadata"]["name"]: d for d in _kinds(docs, "Secret")}
    if server is None or worker is None:
        fail(f"Deployments weir-server and weir-worker: got {list(deploys)}")
        return
    if server["spec"].get("replicas") != 2:
        fail("weir-server: replicas is not 2")
    c = _container(server)
    probe = c.get("readinessProbe", {}).get("httpGet", {})
    if probe.get("path") != "/api/v1/health":
        fail(f"weir-server: readiness probe {probe}, want /api/v1/health")
    env = {e["name"]: e for e in c.get("env", [])}
    ref = env.get("WEIR_DATABASE_URL", {}).get("valueFrom", {}).get(
        "secretKeyRef", {})
    if ref.get("name") not in secrets or ref.get("key") not in secrets.get(
            ref.get("name"), {}).get("stringData", {}):
        fail(f"weir-server: WEIR_DATABASE_URL not from a Secret key: {ref}")
    labels = server["spec"]["template"]["metadata"]["labels"]
    services = [s for s in _kinds(docs, "Service")
                if s["spec"].get("selector")
                and s["spec"]["selector"].items() <= labels.items()]
    if not services:
        fail("no Service selects the weir-server pods")
    w = _container(worker)
    args = w.get("args", [])
    if "--token-file" not in args:
        fail("weir-worker: no --token-file")
    else:
        token = args[args.index("--token-file") + 1]
        vols = {v["name"]: v for v in
                worker["spec"]["template"]["spec"].get("volumes", [])}
        mounted = [m for m in w.get("volumeMounts", [])
                   if token.startswith(m["mountPath"] + "/")
                   and vols.get(m["name"], {}).get("secret", {}).get(
                       "secretName") in secrets]
        if not mounted:
            fail(f"weir-worker: token file {token} is not from a Secret")
    for name, d in deploys.items():
        sc = d["spec"]["template"]["spec"].get("securityContext", {})
        if sc.get("runAsNonRoot") is not True:
            fail(f"{name}: runAsNonRoot is not true")
    if not failures:
        print(f"kubernetes: {len(docs)} documents, kinds "
              f"{sorted({d['kind'] for d in docs})} ok")


def read_env_file(path, env):
    """systemd's EnvironmentFile: KEY=VALUE lines, # comments, quotes."""
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            key, _, value = line.partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                quote, value = value[0], value[1:-1]
                if quote == '"':
                    value = re.sub(r"\\(.)", r"\1", value)
            env[key.strip()] = value


def rooted(root, value):
    for p in ROOTED:
        if value == p or value.startswith(p if p.endswith("/") else p + "/"):
            return root + value
    return value


def specifiers(text, instance):
    table = {"i": instance or "", "I": instance or "", "S": "/var/lib",
             "%": "%"}
    return re.sub(r"%(.)", lambda m: table[m.group(1)], text)


def expand_exec(line, env):
    """ExecStart: ${VAR} is one word, a word that is $VAR alone splits."""
    out = []
    for word in line.split():
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if m:
            out += env.get(m.group(1), "").split()
            continue
        out.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                          lambda m: env.get(m.group(1), ""), word))
    return out


def exec_unit(root, unit, instance):
    name = unit if instance is None else unit.replace("@", "@" + instance)
    svc = parse_unit(os.path.join(root, UNIT_DIR, unit))["Service"]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    for k, v in svc:
        if k == "Environment":
            key, _, value = specifiers(v, instance).partition("=")
            env[key] = value
    for k, v in svc:
        if k == "EnvironmentFile":
            path = rooted(root, specifiers(v, instance).lstrip("-"))
            if v.startswith("-") and not os.path.exists(path):
                continue
            read_env_file(path, env)
    env = {k: rooted(root, v) for k, v in env.items()}
    start = specifiers(values(svc, "ExecStart")[0], instance)
    argv = [rooted(root, a) for a in expand_exec(start, env)]
    uid, gid, groups = account(root, values(svc, "User")[0],
                               values(svc, "Group")[0])
    make_state_dirs(root, svc, instance, uid, gid)
    hide_paths(root, [specifiers(p, instance) for p in " ".join(
        values(svc, "InaccessiblePaths")).split()])
    os.setgroups(groups)
    os.setgid(gid)
    os.setuid(uid)
    cwd = values(svc, "WorkingDirectory")
    if cwd:
        os.chdir(rooted(root, specifiers(cwd[0], instance)))
    print(f"{name}: uid {uid} gid {gid} groups {groups}: {' '.join(argv)}",
          file=sys.stderr, flush=True)
    os.execve(argv[0], argv, env)


def account(root, user, group):
    """User= and Group= as ids of ROOT's files, and the user's other
    groups there (what systemd's initgroups gives the service)."""
    with open(os.path.join(root, "etc/passwd"), encoding="utf-8") as f:
        users = {l.split(":")[0]: l.split(":") for l in f if ":" in l}
    with open(os.path.join(root, "etc/group"), encoding="utf-8") as f:
        groups = [l.rstrip("\n").split(":") for l in f if ":" in l]
    if user not in users:
        sys.exit(f"User={user}: not in {root}/etc/passwd")
    gids = {g[0]: int(g[2]) for g in groups}
    if group not in gids:
        sys.exit(f"Group={group}: not in {root}/etc/group")
    extra = sorted({int(g[2]) for g in groups if user in g[3].split(",")}
                   | {gids[group]})
    return int(users[user][2]), gids[group], extra


def make_state_dirs(root, svc, instance, uid, gid):
    """StateDirectory=: made under /var/lib, the last folder given to the
    unit's user with StateDirectoryMode= (parents made as root, 0755)."""
    mode = int((values(svc, "StateDirectoryMode") or ["0755"])[0], 8)
    for d in " ".join(values(svc, "StateDirectory")).split():
        path = root + "/var/lib/" + specifiers(d, instance)
        os.makedirs(path, mode=0o755, exist_ok=True)
        os.chown(path, uid, gid)
        os.chmod(path, mode)


def hide_paths(root, paths):
    """InaccessiblePaths=: in a mount namespace of this process, each path
    (under ROOT) is covered by an empty node of mode 0000, as systemd
    covers it with one of /run/systemd/inaccessible; "-": skip if absent."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
        sys.exit(f"unshare: {os.strerror(ctypes.get_errno())}")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    nodes = os.path.join(root, "run/inaccessible")
    os.makedirs(nodes + "/dir", mode=0, exist_ok=True)
    if not os.path.exists(nodes + "/reg"):
        os.close(os.open(nodes + "/reg", os.O_CREAT | os.O_WRONLY, 0))
    for p in paths:
        optional = p.startswith("-")
        path = os.path.realpath(rooted(root, p.lstrip("-")))
        if not os.path.exists(path):
            if optional:
                continue
            sys.exit(f"InaccessiblePaths={p}: {path} does not exist")
        node = nodes + ("/dir" if os.path.isdir(path) else "/reg")
        subprocess.run(["mount", "--bind", node, path], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", path], check=True)


def proxy(listen, target):
    """Forward each connection to LISTEN (a unix socket anyone may use) to
    TARGET; runs until killed."""
    if os.path.exists(listen):
        os.unlink(listen)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(listen)
    os.chmod(listen, 0o777)
    srv.listen(16)

    def pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (dst, src):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    while True:
        conn, _ = srv.accept()
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            up.connect(target)
        except OSError:
            conn.close()
            up.close()
            continue
        threading.Thread(target=pump, args=(conn, up), daemon=True).start()
        threading.Thread(target=pump, args=(up, conn), daemon=True).start()


def main():
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "units":
        check_units(args[1])
    elif len(args) == 2 and args[0] == "kube":
        check_kube(args[1])
    elif len(args) in (3, 4) and args[0] == "exec":
        exec_unit(args[1], args[2], args[3] if len(args) == 4 else None)
    elif len(args) == 3 and args[0] == "proxy":
        proxy(args[1], args[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
