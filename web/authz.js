// SPDX-License-Identifier: Apache-2.0
// What the signed-in caller may do, from the "scopes" of GET
// /api/v1/session (docs/security.md, "Access model: roles and scopes"):
// the dashboard hides what the server would refuse. The server decides;
// this only spares people a button that can only fail.

// Whether DAG id `id` matches pattern `pat` ("*": any run, "?": one).
function matches(pat, id) {
  const re = new RegExp('^' + pat.replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  return re.test(id);
}

// Whether one grant allows action on dag (null: no one DAG) in env (null:
// no one environment; undefined: any of them, environments aside), by the
// server's rule: a target beyond a scope is covered only by a grant
// without that scope.
function grantAllows(g, action, dag, env) {
  if (!(g.actions || []).includes(action)) return false;
  if (g.dag && (!dag || !g.dag.some((p) => matches(p, dag)))) return false;
  if (env === undefined) return true;
  return !g.env || (!!env && g.env.includes(env));
}

// may(session, action, dag?, env?): see grantAllows(); with no dag, whether
// some grant gives the action anywhere.
export function may(session, action, dag, env) {
  const scopes = session?.scopes || [];
  if (dag === undefined) return !!session?.can?.[action];
  return scopes.some((g) => grantAllows(g, action, dag, env));
}

// Whether the session may change anything at all (a read-only caller).
export function mayAct(session) {
  const can = session?.can || {};
  return ['trigger', 'cancel', 'retry', 'approve', 'pause', 'promote', 'submit', 'delete', 'admin']
    .some((a) => can[a]);
}

// The caller's grants for people: "operator:env=dev, read".
export function grantsText(session) {
  return (session?.grants || []).join(', ') || session?.role || '';
}
