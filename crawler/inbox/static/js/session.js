// Who is signed in: the user (GET /api/me) and the organisations they may
// read (GET /api/orgs), loaded once per sign-in and kept in memory.
import {ApiError, clearToken, get, setToken} from './api.js';

export const session = {
  user: null,        // {name, role, orgs, regions}; name null when /api/me is missing
  canAct: new Set(),  // organisation codes the user may act for
  orgs: [],          // [{org, name, threads, can_act, by_state}]
  ended: false,      // the API refused the token while it was in use
  signingIn: false,  // a refusal now is the sign-in page's to report
  returnTo: null,    // the route asked for before signing in
  epoch: 0,          // changes at each sign-in and sign-out: pages forget what they kept
};

// Loads the session for the stored token. Resolves to true, or to false
// when the token was refused. Throws other errors.
export async function loadSession() {
  try {
    await fetchSession();
    return true;
  } catch (error) {
    // The unauthorised handler (app.js) has signed out and gone to sign in.
    if (error instanceof ApiError && error.status === 401) return false;
    throw error;
  }
}

async function fetchSession() {
  let me = null;
  try {
    me = await get('/api/me');
  } catch (error) {
    // An earshot without /api/me still answers /api/orgs below.
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
  }
  const orgs = await get('/api/orgs');
  session.orgs = Array.isArray(orgs?.orgs) ? orgs.orgs : [];
  session.user = me?.user ?? {name: null, role: null, orgs: [], regions: []};
  session.canAct = new Set(Array.isArray(me?.can_act) ? me.can_act :
    session.orgs.filter((o) => o.can_act).map((o) => o.org));
}

// Signs in with `token`: resolves when the API accepted it; rejects with the
// ApiError otherwise (the token is then forgotten).
export async function signIn(token) {
  setToken(token);
  session.epoch += 1;
  session.signingIn = true;
  try {
    await fetchSession();
  } catch (error) {
    signOut();
    throw error;
  } finally {
    session.signingIn = false;
  }
}

export function signOut() {
  clearToken();
  session.epoch += 1;
  session.user = null;
  session.canAct = new Set();
  session.orgs = [];
}

export function orgName(code) {
  return session.orgs.find((o) => o.org === code)?.name ?? null;
}

// "RHQ" -> "Riverside Hospital (RHQ)", or "RHQ" when no name is known.
export function orgLabel(code) {
  const name = orgName(code);
  return name ? `${name} (${code})` : code;
}
