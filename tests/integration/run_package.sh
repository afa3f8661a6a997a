#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian package (scripts/package.sh) of the build it is given: its
# file list, modes and conffiles; installed with `dpkg --root` into a
# scratch root (never on this host: see below), with what postinst makes
# (the system users weir and weir-worker, the owners and modes of
# /etc/weir and /var/lib/weir);
# systemd-analyze verify and security on its units, lintian with no error;
# deploy/kubernetes parses and has what it must. Then the installed
# programs run as the units would run them (their command lines and
# environment files, users, state folders and hidden paths, /etc/weir
# edited as docs/deploy.md says) against a private PostgreSQL reached
# through a stand-in for a local socket anyone may use: the first admin
# token with the server's settings, a worker named by its unit instance
# with its token from a file, a DAG run to success, a step that can neither
# read server.env, nor mint a token through the server's database, nor
# signal the server, and no token in any process's argv or log. Last, a
# reinstall keeps the edited conffiles and their mode, and a purge removes
# what it must and keeps the DAG folder and the users.
#
# The scratch root: its own /etc, /var and /run, a dev/null node, and the
# host's /usr under an overlay whose changes go to the test's folder (the
# package installs into /usr; the maintainer scripts run chrooted there
# with the host's sh, adduser and perl). The script runs in a mount
# namespace of its own, so that the overlay is seen by nothing else and
# goes with it.
#   tests/integration/run_package.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
if [ -z "${WEIR_PACKAGE_NS:-}" ]; then
    WEIR_PACKAGE_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi
build=$1
src=$2
server=/nonexistent # set once the package is installed
. "$src/tests/integration/harness.sh"
helper="$src/tests/integration/package_test.py"
root="$tmp/root"

# the overlay is detached before harness_cleanup removes $tmp
package_cleanup() {
    mountpoint -q "$root/usr" && umount -l "$root/usr"
    harness_cleanup
}
trap package_cleanup EXIT

for tool in dpkg-deb systemd-analyze lintian unshare; do
    command -v "$tool" >/dev/null ||
        die "$tool is missing (scripts/setup.sh --test installs it)"
done

# ---- the package ----
t0=$SECONDS
deb=$("$src/scripts/package.sh" "$build" "$tmp/deb") || die "package.sh failed"
echo "built $(basename "$deb") in $((SECONDS - t0)) s"
# lintian, the slowest check, runs while the others do; its verdict is
# taken at the end
lintian --fail-on error "$deb" >"$tmp/lintian" 2>&1 &
lintian_pid=$!
lintian_t0=$SECONDS
harness_pids+=("$lintian_pid") # stopped on exit if a check dies first

# a wrong build folder: refused, named
mkdir -p "$tmp/notabuild"
for b in "$tmp/missing" "$tmp/notabuild"; do
    if "$src/scripts/package.sh" "$b" "$tmp/bad" >/dev/null 2>"$tmp/bad.err" ||
        ! grep -q "weir package: .*$b" "$tmp/bad.err"; then
        fail "package.sh $b: $(cat "$tmp/bad.err")"
    fi
done

dpkg-deb -c "$deb" | awk '{print $1, $2, $6}' >"$tmp/list"
# every file it must hold, with its mode and owner
while read -r mode path; do
    grep -qx -- "$mode root/root ./$path" "$tmp/list" ||
        fail "the package lacks $mode ./$path (got: $(grep -- " ./$path\$" "$tmp/list"))"
done <<'EOF'
-rwxr-xr-x usr/bin/weir
-rwxr-xr-x usr/bin/weir-pg
-rwxr-xr-x usr/bin/weir-server
-rwxr-xr-x usr/bin/weir-worker
-rw-r--r-- lib/systemd/system/weir-server.service
-rw-r--r-- lib/systemd/system/weir-worker@.service
-rw-r----- etc/weir/server.env
-rw-r----- etc/weir/worker.env
-rw-r--r-- usr/share/doc/weir/copyright
-rw-r--r-- usr/share/doc/weir/changelog.gz
-rw-r--r-- usr/share/doc/weir/deploy.md
EOF
dpkg-deb -I "$deb" conffiles >"$tmp/conffiles" 2>&1
printf '%s\n' /etc/weir/server.env /etc/weir/worker.env |
    cmp -s - "$tmp/conffiles" ||
    fail "conffiles: $(cat "$tmp/conffiles"), want the two env files"
for f in postinst prerm postrm; do
    dpkg-deb -I "$deb" "$f" >/dev/null 2>&1 || fail "no $f script"
done
dpkg-deb -f "$deb" Depends | grep -q 'adduser' ||
    fail "Depends lacks adduser (postinst makes the user weir)"
dpkg-deb -f "$deb" Depends | grep -q 'libpq5' ||
    fail "Depends lacks libpq5 (dpkg-shlibdeps did not run?)"

# ---- dpkg -i into the scratch root ----
mkdir -p "$root"/{usr,etc,run,tmp,dev,var/lib/dpkg/info,var/lib/dpkg/updates} \
    "$tmp/overlay/upper" "$tmp/overlay/work"
for d in bin lib lib64 sbin; do
    ln -s "usr/$d" "$root/$d"
done
chmod 1777 "$root/tmp"
: >"$root/var/lib/dpkg/status"
mknod -m 666 "$root/dev/null" c 1 3 || die "mknod dev/null failed"
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' \
    >"$root/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$root/etc/group"
printf '%s\n' 'root:*:20000:0:99999:7:::' 'nobody:*:20000:0:99999:7:::' \
    >"$root/etc/shadow"
printf '%s\n' 'root:*::' 'nogroup:*::' >"$root/etc/gshadow"
chmod 0640 "$root/etc/shadow" "$root/etc/gshadow"
# the programs run on this host as the users postinst makes in the root:
# their ids must be no host user's or group's (adduser's first system id,
# 100, is often the host's messagebus or postgres)
first=""
for k in $(seq 200 10 990); do
    taken=0
    for i in $(seq "$k" $((k + 9))); do
        getent passwd "$i" >/dev/null || getent group "$i" >/dev/null &&
            taken=1 && break
    done
    [ "$taken" = 0 ] && first=$k && break
done
[ -n "$first" ] || die "no 10 free system ids on this host"
printf '%s\n' "FIRST_SYSTEM_UID=$first" "LAST_SYSTEM_UID=$((first + 9))" \
    "FIRST_SYSTEM_GID=$first" "LAST_SYSTEM_GID=$((first + 9))" \
    >"$root/etc/adduser.conf"
mount -t overlay overlay -o "lowerdir=/usr,upperdir=$tmp/overlay/upper,workdir=$tmp/overlay/work" \
    "$root/usr" || die "cannot mount an overlay of /usr (needs root)"

# pkg_install: dpkg -i the package in the scratch root (the programs'
# libraries are the host's, not in the root's dpkg database)
pkg_install() {
    dpkg --root="$root" --force-depends -i "$deb" >"$tmp/dpkg.log" 2>&1 ||
        fail "dpkg -i: $(grep -v 'depends on\|is not installed' "$tmp/dpkg.log")"
}
pkg_install
status=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' weir)
[ "$status" = "install ok installed" ] || fail "after dpkg -i: $status"
readelf -S "$root/usr/bin/weir-server" | grep -q -e '\.symtab' -e '\.debug_' &&
    fail "weir-server is not stripped"

# what postinst made: system users and groups weir (the server) and
# weir-worker (the workers), neither in the other's group, and these modes
for u in weir weir-worker; do
    id=$(awk -F: -v u="$u" '$1 == u {print $3}' "$root/etc/passwd")
    g=$(awk -F: -v u="$u" '$1 == u {print $3}' "$root/etc/group")
    shell=$(awk -F: -v u="$u" '$1 == u {print $7}' "$root/etc/passwd")
    if [ -z "$id" ] || [ -z "$g" ] || [ "$id" -ge 1000 ] ||
        [ "$shell" != /usr/sbin/nologin ]; then
        fail "postinst: no system user $u: $(cat "$root/etc/passwd")"
    fi
done
uid=$(awk -F: '$1 == "weir" {print $3}' "$root/etc/passwd")
gid=$(awk -F: '$1 == "weir" {print $3}' "$root/etc/group")
wuid=$(awk -F: '$1 == "weir-worker" {print $3}' "$root/etc/passwd")
wgid=$(awk -F: '$1 == "weir-worker" {print $3}' "$root/etc/group")
[ "$uid" != "$wuid" ] && [ "$gid" != "$wgid" ] ||
    fail "postinst: weir and weir-worker share an id ($uid/$wuid $gid/$wgid)"
grep -E "^weir(-worker)?:" "$root/etc/group" | cut -d: -f4 | grep -q . &&
    fail "postinst: a weir group has members: $(grep '^weir' "$root/etc/group")"
# modes: check_modes "MODE UID:GID PATH"...; where: after an install
check_modes() {
    local where=$1 line got
    shift
    for line in "$@"; do
        got=$(stat -c '%a %u:%g' "$root/${line#* * }" 2>&1)
        [ "$got" = "${line% *}" ] ||
            fail "$where: ${line#* * } is $got, want ${line% *}"
    done
}
modes=("755 0:0 etc/weir" "640 0:$gid etc/weir/server.env"
    "640 0:$wgid etc/weir/worker.env" "711 $uid:$gid var/lib/weir"
    "755 0:0 var/lib/weir/dags" "750 0:$wgid var/lib/weir/scratch")
check_modes "postinst" "${modes[@]}"

# ---- the units ----
units=(/lib/systemd/system/weir-server.service
    /lib/systemd/system/weir-worker@.service)
if ! systemd-analyze verify --root="$root" "${units[@]}" >"$tmp/verify" 2>&1 ||
    [ -s "$tmp/verify" ]; then
    fail "systemd-analyze verify: $(cat "$tmp/verify")"
else
    echo "systemd-analyze verify: both units clean"
fi
# exposure, in tenths (0 = locked down, 100 = none; shown as 0.0-10.0):
# the server's limit is tighter, as
# the worker's steps keep devices-free but syscall-unfiltered access
for u in weir-server.service:25 weir-worker@w1.service:50; do
    systemd-analyze security --offline=true --root="$root" \
        --threshold="${u#*:}" "${u%:*}" >"$tmp/security" 2>&1 ||
        fail "${u%:*} exposure above ${u#*:}: $(tail -n 2 "$tmp/security")"
    echo "security: $(grep -o 'Overall exposure level for .*' "$tmp/security")"
done
python3 "$helper" units "$root" || fail "unit hardening (above)"


# ---- deploy/ ----
# Debian's python3 with python3-yaml (scripts/setup.sh), not another on PATH
/usr/bin/python3 "$helper" kube "$src/deploy/kubernetes" || fail "kubernetes manifests"
grep -q '^FROM .*debian:12.* AS build' "$src/deploy/Containerfile" &&
    grep -q '^FROM .*debian:12' "$src/deploy/Containerfile" &&
    grep -q '^USER [1-9]' "$src/deploy/Containerfile" ||
    fail "deploy/Containerfile: not a Debian 12 multi-stage non-root build"

# ---- the programs, run as the units run them ----
etc="$root/etc/weir"
dags="$root/var/lib/weir/dags"
cat >"$dags/hello.yaml" <<'EOF'
dag: hello
params:
  who: world
steps:
  - id: greet
    run: echo "hello, ${{ params.who }} from $PWD"
EOF
# set KEY VALUE FILE: the admin's edit of a shipped variable
set_var() {
    grep -q "^$1=" "$3" || fail "$(basename "$3") has no $1="
    python3 - "$@" <<'EOF'
import sys
key, value, path = sys.argv[1:4]
lines = open(path).read().splitlines()
lines = [f'{key}="{value}"' if l.startswith(key + "=") else l for l in lines]
open(path, "w").write("\n".join(lines) + "\n")
EOF
}
# what a step of a worker on the server's host tries; each step fails the
# run if it gets through
cat >"$dags/probe.yaml" <<'EOF'
dag: probe
params:
  env: ""
  server: ""
  url: ""
  pid: ""
steps:
  - id: env
    run: |
      id
      if cat ${{ params.env }}; then echo "LEAK: read server.env"; exit 1; fi
      echo "server.env: not readable"
  - id: db
    run: |
      if psql ${{ params.url }} -Atc 'SELECT current_user'; then
        echo "LEAK: connected as the server's role"; exit 1
      fi
      # weir-server waits up to 15 s for a database it cannot reach; one
      # it can reach gives the token in well under a second
      if timeout -s KILL 5 ${{ params.server }} --database-url ${{ params.url }} --create-token admin --token-name stolen; then
        echo "LEAK: minted an admin token"; exit 1
      fi
      echo "database: refused"
  - id: signal
    run: |
      if kill -0 ${{ params.pid }}; then echo "LEAK: may signal the server"; exit 1; fi
      echo "server: cannot be signalled"
EOF
chmod 0644 "$dags"/*.yaml
# PostgreSQL's socket folder as on Debian, /run/postgresql (and
# /var/run/postgresql, a link to it), with a socket anyone who reaches it
# may connect through: a stand-in for the peer authentication that admits
# any process of the server's user. The test cluster itself admits root
# and postgres only (peer, socket folder 0700).
mkdir -p "$root/run/postgresql"
ln -s ../run "$root/var/run"
python3 "$helper" proxy "$root/run/postgresql/.s.PGSQL.5432" \
    "$tmp/pg/.s.PGSQL.5432" 2>"$tmp/proxy.err" &
harness_pids+=("$!")
for _ in $(seq 1 50); do
    [ -S "$root/run/postgresql/.s.PGSQL.5432" ] && break
    sleep 0.1
done
dburl="postgresql://postgres@/weir?host=$root/run/postgresql"
set_var WEIR_DATABASE_URL "$dburl" "$etc/server.env"
set_var WEIR_LISTEN 127.0.0.1:0 "$etc/server.env"

server="$root/usr/bin/weir-server"
cli="$root/usr/bin/weir"
python3 "$helper" exec "$root" weir-server.service >"$tmp/out" 2>"$tmp/err" &
server_pid=$!
addr=$(harness_listen_addr "$server_pid" "$tmp/err") || exit 1
curl -sf "http://$addr/api/v1/health" >/dev/null || fail "no health answer"

# the first admin token, as docs/deploy.md makes it: server.env sourced
admin=$(sh -c 'set -a; . "$1"; exec "$2" --create-token admin \
    --token-name ops' sh "$etc/server.env" "$server" 2>"$tmp/create") ||
    fail "weir-server --create-token with server.env failed"
export WEIR_SERVER="http://$addr" WEIR_TOKEN="$admin"
"$cli" token create --role worker --name w1 >"$etc/worker-w1.token" ||
    fail "weir token create failed"
chown "0:$wgid" "$etc/worker-w1.token" # root:weir-worker
chmod 0640 "$etc/worker-w1.token"
wtoken=$(cat "$etc/worker-w1.token")
set_var WEIR_SERVER "http://$addr" "$etc/worker.env"
# the worker's own file overrides the shared one (which says --slots 2)
printf '%s\n' 'WEIR_WORKER_ARGS="--slots 3 --queue default"' \
    >"$etc/worker-w1.env"
python3 "$helper" exec "$root" weir-worker@.service w1 \
    >"$tmp/worker.log" 2>&1 &
harness_worker_pid=$!

t0=$SECONDS
timeout 30 "$cli" trigger hello -p who=unit --wait >"$tmp/run" 2>&1 ||
    fail "the run through the unit-started worker failed: $(cat "$tmp/run")"
echo "run: $(tail -n 1 "$tmp/run") ($((SECONDS - t0)) s)"
"$cli" logs 1 greet 2>&1 | grep -q "hello, unit from $root/var/lib/weir" ||
    fail "step log: $("$cli" logs 1 greet 2>&1)"
"$cli" workers --json >"$tmp/workers" 2>&1
python3 - "$tmp/workers" <<'EOF' || fail "weir workers: $(cat "$tmp/workers")"
import json, sys
ws = json.load(open(sys.argv[1]))
ws = ws.get("workers", ws) if isinstance(ws, dict) else ws
w = [w for w in ws if w.get("name") == "w1"]
# the name from the unit instance, --slots 3 from worker-w1.env
assert w and w[0].get("slots") == 3, ws
print("worker w1: name from the instance, slots 3 from worker-w1.env")
EOF

# a worker's step on the server's host: it runs as weir-worker with the
# unit's hidden paths, and can neither read server.env, nor mint a token
# through the database socket the server uses, nor signal the server
t0=$SECONDS
timeout 30 "$cli" trigger probe -p env="$etc/server.env" -p server="$server" \
    -p url="$dburl" -p pid="$server_pid" --wait >"$tmp/probe" 2>&1 ||
    fail "a worker's step got through to the server: $(cat "$tmp/probe")"
echo "probe run: $(tail -n 1 "$tmp/probe") ($((SECONDS - t0)) s)"
for s in "env:server.env: not readable" "db:database: refused" \
    "signal:server: cannot be signalled"; do
    "$cli" logs 2 "${s%%:*}" >"$tmp/probe.log" 2>&1
    grep -q "${s#*:}" "$tmp/probe.log" ||
        fail "probe step ${s%%:*}: $(cat "$tmp/probe.log")"
    sed "s/^/  probe ${s%%:*}: /" "$tmp/probe.log"
done
"$cli" logs 2 env 2>&1 | grep -q "uid=$wuid" ||
    fail "the probe's step did not run as weir-worker (uid $wuid)"
"$cli" token list >"$tmp/tokens" 2>&1
grep -q stolen "$tmp/tokens" && fail "a step minted a token: $(cat "$tmp/tokens")"
# the controls: what stops the step is the separation, not the test's
# set-up: the server's user may signal it, and weir-worker outside the
# unit's hidden paths reaches the database
setpriv --reuid="$uid" --regid="$gid" --clear-groups kill -0 "$server_pid" ||
    fail "control: the user weir cannot signal its server"
t0=$(date +%s%N)
setpriv --reuid="$wuid" --regid="$wgid" --clear-groups timeout -s KILL 5 "$server" \
    --database-url "$dburl" --create-token read --token-name control \
    >/dev/null 2>"$tmp/control" ||
    fail "control: the socket stand-in refused weir-worker: $(cat "$tmp/control")"
echo "control: weir-worker outside the unit's hidden paths made a token in" \
    "$((($(date +%s%N) - t0) / 1000000)) ms"

# no token in any argv or log
for p in "$server_pid" "$harness_worker_pid"; do
    tr '\0' ' ' <"/proc/$p/cmdline" >"$tmp/cmdline"
    grep -qF -e "$admin" -e "$wtoken" "$tmp/cmdline" &&
        fail "a token is in the argv of pid $p"
    grep -q -e "--token-file" -e "weir-server" "$tmp/cmdline" ||
        fail "pid $p is not the unit's program: $(cat "$tmp/cmdline")"
done
grep -lF -e "$admin" -e "$wtoken" "$tmp/err" "$tmp/out" "$tmp/worker.log" &&
    fail "a token is in a log"

harness_stop_worker
harness_stop_server
harness_check_log

# ---- reinstall (an upgrade from the one-user layout), then purge ----
# what the package made when the server and the workers were both weir:
# the reinstall gives the workers' files and folders to weir-worker
chown "0:$gid" "$etc" "$dags" "$etc/worker.env" "$etc/worker-w1.env" \
    "$etc/worker-w1.token"
chown "$uid:$gid" "$root/var/lib/weir/scratch"
chmod 0750 "$etc" "$dags" "$root/var/lib/weir" "$root/var/lib/weir/scratch"
pkg_install
grep -qx 'WEIR_LISTEN="127.0.0.1:0"' "$etc/server.env" ||
    fail "a reinstall did not keep the edited server.env"
check_modes "reinstall" "${modes[@]}" "640 0:$wgid etc/weir/worker-w1.env" \
    "640 0:$wgid etc/weir/worker-w1.token"
dpkg --root="$root" --purge weir >"$tmp/dpkg.log" 2>&1 ||
    fail "dpkg --purge: $(cat "$tmp/dpkg.log")"
for gone in usr/bin/weir-server lib/systemd/system/weir-server.service \
    etc/weir/server.env etc/weir/worker.env var/lib/weir/scratch; do
    [ -e "$root/$gone" ] && fail "after a purge, /$gone is still there"
done
[ -d "$dags" ] && grep -q '^weir:' "$root/etc/passwd" &&
    grep -q '^weir-worker:' "$root/etc/passwd" ||
    fail "a purge removed the DAG folder or a user"

wait "$lintian_pid" ||
    fail "lintian found errors: $(grep '^E:' "$tmp/lintian")"
grep -q '^E:' "$tmp/lintian" && fail "lintian: $(grep '^E:' "$tmp/lintian")"
echo "lintian (done $((SECONDS - lintian_t0)) s after its start):" \
    "$(grep -c '^E:' "$tmp/lintian") errors," \
    "$(grep -c '^W:' "$tmp/lintian") warnings"
sed -n 's/^W: /  warning: /p' "$tmp/lintian"
echo "integration.package: $((SECONDS - started)) s"
exit $rc
