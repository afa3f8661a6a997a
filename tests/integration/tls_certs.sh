# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Sourced by the TLS tests (run_tls.sh, run_netns.sh): makes throw-away
# certificates with the openssl command (EC P-256, valid two days).
#   tls_certs DIR IP...
# writes into DIR: ca.pem/.key (the test's CA), other-ca.pem/.key (a CA
# nobody trusts), server.pem/.key (serial 0x1001) and server2.pem/.key
# (serial 0x1002), both for the IPs given and signed by ca; worker.pem/.key
# (a client certificate signed by ca) and stranger.pem/.key (one signed by
# other-ca), expired.pem (server.key's certificate, expired yesterday).
# Returns non-zero when openssl fails.

# tls_cert_make DIR NAME CN SERIAL ISSUER EXTENSIONS
tls_cert_make() {
    local d=$1 name=$2 cn=$3 serial=$4 issuer=$5 ext=$6
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$d/$name.key" -out "$d/$name.csr" -subj "/CN=$cn" 2>>"$d/openssl.log" &&
        printf '%b\n' "$ext" >"$d/$name.ext" &&
        openssl x509 -req -in "$d/$name.csr" -CA "$d/$issuer.pem" \
            -CAkey "$d/$issuer.key" -set_serial "$serial" -days 2 \
            -extfile "$d/$name.ext" -out "$d/$name.pem" 2>>"$d/openssl.log"
}

tls_certs() {
    local d=$1 san="" ip ca
    shift
    for ip in "$@"; do
        san="${san:+$san,}IP:$ip"
    done
    mkdir -p "$d" || return 1
    for ca in ca other-ca; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$d/$ca.key" -out "$d/$ca.pem" -days 2 \
            -subj "/CN=weir test $ca" 2>>"$d/openssl.log" || return 1
    done
    tls_cert_make "$d" server weir-server 0x1001 ca \
        "subjectAltName=$san\nextendedKeyUsage=serverAuth" &&
        tls_cert_make "$d" server2 weir-server 0x1002 ca \
            "subjectAltName=$san\nextendedKeyUsage=serverAuth" &&
        tls_cert_make "$d" worker weir-worker 0x2001 ca \
            "extendedKeyUsage=clientAuth" &&
        tls_cert_make "$d" stranger weir-worker 0x3001 other-ca \
            "extendedKeyUsage=clientAuth" &&
        openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" \
            -CAkey "$d/ca.key" -set_serial 0x1003 -days -1 \
            -extfile "$d/server.ext" -out "$d/expired.pem" 2>>"$d/openssl.log" &&
        chmod 600 "$d"/*.key
}

# tls_stop_procs: end the python driver ($py_pid) and every process the
# test listed in $tmp/pids (by id), for the scripts' EXIT traps.
tls_stop_procs() {
    if [ -n "${py_pid:-}" ]; then
        kill -TERM "$py_pid" 2>/dev/null
        wait "$py_pid" 2>/dev/null
    fi
    if [ -f "$tmp/pids" ]; then
        while read -r p; do
            kill -KILL "$p" 2>/dev/null
        done <"$tmp/pids"
    fi
}
