/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The caller's groups for the approval policy (api.h). A token carries no
 * groups; a session of a user signed in through single sign-on carries the
 * groups its identity provider gave at sign-in (api/oidc.h).
 */
#include "api/api.h"
#include "api/oidc.h"

void api_caller_groups(const struct http_req *req, const char *const **groups,
                       size_t *n)
{
    oidc_caller_groups(req, groups, n); /* single sign-on (api/oidc.h) */
}
