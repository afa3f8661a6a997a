#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The tests' private PostgreSQL cluster: the same helper `weir up` uses
# (cli/weir-pg), so the tests run with the same lock-down (socket folder
# 0700, peer authentication, no TCP).
#
#   pg.sh start DIR              create the cluster if DIR has none, start
#                                it, create the database "weir" if missing,
#                                print the connection string on stdout
#   pg.sh stop DIR [fast|immediate]   stop it (fast by default)
#   pg.sh url DIR                print the connection string
#   pg.sh psql DIR [ARGS...]     run psql on the database "weir"
#   pg.sh standby PRIMARY DIR    a synchronous streaming standby of the
#                                cluster in PRIMARY, in DIR; started; its
#                                connection string on stdout
#   pg.sh promote DIR            promote the standby in DIR
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/cli/weir-pg" "$@"
