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
                                      program (same pid).

No systemd runs as PID 1 here, so `exec` follows systemd.service(5) and
systemd.exec(5) for what these units use; the units' syntax is checked by
systemd-analyze verify itself.
"""
import os
import re
import sys

UNIT_DIR = "lib/systemd/system"
ROOTED = ("/usr/bin/", "/etc/weir/", "/etc/weir", "/var/lib/weir")

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
    "User": "weir",
    "Group": "weir",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
    "Restart": "on-failure",
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
        for key, want in HARDENING.items():
            got = values(svc, key)
            if got != [want]:
                fail(f"{unit}: {key}= is {got}, want [{want!r}]")
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
        print("units: hardening, writable paths and environment files ok")


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
    cwd = values(svc, "WorkingDirectory")
    if cwd:
        os.chdir(rooted(root, specifiers(cwd[0], instance)))
    print(f"{name}: {' '.join(argv)}", file=sys.stderr, flush=True)
    os.execve(argv[0], argv, env)


def main():
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "units":
        check_units(args[1])
    elif len(args) == 2 and args[0] == "kube":
        check_kube(args[1])
    elif len(args) in (3, 4) and args[0] == "exec":
        exec_unit(args[1], args[2], args[3] if len(args) == 4 else None)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
