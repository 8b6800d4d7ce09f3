// Talking to earshot's JSON API (docs/api.md) with the signed-in user's
// bearer token, kept in sessionStorage: it lasts as long as the browser tab
// and is never put in a URL.

const TOKEN_KEY = 'earshot.token';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;  // 0 when earshot could not be reached
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// Called when the API answers 401 (set by app.js): the token was revoked.
let onUnauthorised = () => {};
export function setUnauthorisedHandler(handler) {
  onUnauthorised = handler;
}

// method, path ("/api/threads?..."), JSON body or undefined.
// Resolves to the parsed JSON; rejects with ApiError.
export async function request(method, path, body) {
  const headers = {Accept: 'application/json'};
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = {method, headers, credentials: 'omit', cache: 'no-store'};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, 'earshot could not be reached. Check that it is still running.');
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data?.error?.message ?? `earshot answered ${response.status}`;
    if (response.status === 401) onUnauthorised();
    throw new ApiError(response.status, message);
  }
  return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body = {}) => request('POST', path, body);

// A query string from an object, leaving out empty values.
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
