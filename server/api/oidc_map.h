/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The role mapping of single sign-on (--oidc-role-map FILE): which role
 * grants a signed-in user gets, from the values of its groups claim and
 * its user name. A YAML file:
 *
 *   groups:                 # a value of the groups claim -> grants
 *     weir-admins: [admin]
 *     team-a:
 *       - "operator:env=dev,staging:dag=team-a-*"
 *   users:                  # a user name -> grants
 *     alice: [read]
 *   default: [read]         # anyone else; without it, they are refused
 *
 * A grant is "ROLE[:env=E,...][:dag=PATTERN,...]" (api/grant.h) with ROLE
 * one of admin, operator, author, read, ingest, worker. Grants are kept as
 * these strings (on the session too).
 */
#ifndef WEIR_OIDC_MAP_H
#define WEIR_OIDC_MAP_H

#include <cJSON.h>

#include "err.h"

struct oidc_map;

/*
 * Read and check the mapping file path into a new *out (oidc_map_free()).
 * WEIR_EINVAL with err naming path:line and what is wrong: an unknown key
 * (with the closest known one), a value of the wrong type, a bad grant.
 */
WEIR_MUSTCHECK int oidc_map_load(const char *path, struct oidc_map **out,
                                 struct weir_err *err);

void oidc_map_free(struct oidc_map *m);

/* The SHA-256 (hex) of the file m was read from. */
const char *oidc_map_digest(const struct oidc_map *m);

/*
 * The grants of user (its name) in groups (a JSON array of strings, or
 * NULL) as a new JSON array of distinct grant strings into *out: those of
 * each listed group and of the user, or else the default. WEIR_EFORBIDDEN
 * when that is none.
 */
WEIR_MUSTCHECK int oidc_map_grants(const struct oidc_map *m, const char *user,
                                   const cJSON *groups, cJSON **out,
                                   struct weir_err *err);

/* 0 when text is a grant in the syntax above (grant_parse() of
 * api/grant.h); WEIR_EINVAL saying what is wrong otherwise. */
WEIR_MUSTCHECK int oidc_grant_check(const char *text, struct weir_err *err);

#endif
