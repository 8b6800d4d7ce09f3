// The earshot web inbox (docs/inbox.md): a single page that routes on the
// location hash and talks to the JSON API with the signed-in user's token.
//   #/signin  #/inbox?org=..&status=..  #/threads/ID  #/listening
import {initHeader} from '../nhsuk/nhsuk-frontend.min.js';
import {getToken, setUnauthorisedHandler} from './api.js';
import {errorSummary} from './components.js';
import {h} from './dom.js';
import {renderInbox} from './pages/inbox.js';
import {renderListening} from './pages/listening.js';
import {renderSignIn} from './pages/signin.js';
import {renderThread} from './pages/thread.js';
import {loadSession, session, signOut} from './session.js';

const page = document.getElementById('earshot-page');
const statusRegion = document.getElementById('earshot-status');

// What every page gets: where to draw, and how to report.
export const app = {
  page,
  // Announces a short message to screen readers (a polite live region).
  announce(message) {
    statusRegion.textContent = '';
    // A fresh text node after a tick, so a repeated message is read again.
    setTimeout(() => { statusRegion.textContent = message; }, 50);
  },
  // Shows an error summary at the top of the page and moves focus to it.
  showErrors(errors, container = page) {
    container.querySelector(':scope > .nhsuk-error-summary')?.remove();
    if (!errors.length) return;
    const summary = errorSummary(errors);
    container.prepend(summary);
    summary.focus();
  },
  clearErrors(container = page) {
    container.querySelector(':scope > .nhsuk-error-summary')?.remove();
  },
  navigate(hash) {
    if (location.hash === hash) route(); else location.hash = hash;
  },
};

function updateHeader(current) {
  const signedIn = Boolean(getToken());
  document.getElementById('earshot-account').hidden = !signedIn;
  document.getElementById('earshot-navigation').hidden = !signedIn;
  const name = document.getElementById('earshot-user-name');
  name.textContent = session.user?.name ?? '';
  // Without /api/me the name is unknown: no empty account item.
  name.parentElement.hidden = !session.user?.name;
  for (const link of document.querySelectorAll('[data-earshot-nav]')) {
    const isCurrent = link.dataset.earshotNav === current;
    link.parentElement.classList.toggle('nhsuk-header__navigation-item--current', isCurrent);
    if (isCurrent) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
}

// Hashes that are not routes ("#maincontent") are left alone.
function parseHash() {
  const hash = location.hash || '#/inbox';
  if (!hash.startsWith('#/')) return null;
  const [path, queryString = ''] = hash.slice(1).split('?', 2);
  return {path, params: new URLSearchParams(queryString)};
}

let routeGeneration = 0;
let firstRoute = true;

async function route() {
  const parsed = parseHash();
  if (!parsed) return;
  const generation = ++routeGeneration;
  const {path, params} = parsed;
  if (!getToken() && path !== '/signin') {
    // After signing in, back to the page asked for (a link to a thread).
    session.returnTo = location.hash;
    location.replace('#/signin');
    return;
  }
  if (getToken() && !session.user) {
    const ok = await loadSession();
    if (generation !== routeGeneration) return;
    if (!ok) return;
  }
  let current = null;
  let render;
  let match;
  if (path === '/signin') {
    render = () => renderSignIn(app);
  } else if (path === '/inbox' || path === '/' || path === '') {
    current = 'inbox';
    render = () => renderInbox(app, params);
  } else if ((match = /^\/threads\/(\d+)$/.exec(path))) {
    current = 'inbox';
    render = () => renderThread(app, Number(match[1]));
  } else if (path === '/listening') {
    current = 'listening';
    render = () => renderListening(app, params);
  } else {
    render = () => {
      document.title = 'Page not found – earshot';
      page.replaceChildren(
        h('h1', {tabindex: '-1'}, 'Page not found'),
        h('p', {}, 'There is no such page in the inbox. ', h('a', {href: '#/inbox'}, 'Go to your threads'), '.'));
    };
  }
  updateHeader(current);
  page.setAttribute('aria-busy', 'true');
  try {
    await render();
  } catch (error) {
    page.replaceChildren(h('h1', {tabindex: '-1'}, 'Sorry, there is a problem'));
    app.showErrors([{message: error.message ?? String(error)}]);
  } finally {
    page.removeAttribute('aria-busy');
  }
  if (generation !== routeGeneration) return;
  updateHeader(current);
  // After a navigation, focus the new page's heading so that screen readers
  // announce it (not on first load, where the browser starts at the top).
  if (!firstRoute && !page.contains(document.activeElement)) {
    page.querySelector('h1')?.focus();
  }
  firstRoute = false;
}

function start() {
  // nhsuk-frontend's components run only where the body says they may.
  document.body.classList.add('js-enabled');
  if ('noModule' in HTMLScriptElement.prototype) document.body.classList.add('nhsuk-frontend-supported');
  initHeader();

  // The skip link must not become a route: move focus without the hash.
  document.getElementById('earshot-skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    document.getElementById('maincontent').focus();
  });
  document.getElementById('earshot-sign-out').addEventListener('click', () => {
    signOut();
    app.announce('Signed out');
    app.navigate('#/signin');
  });
  // A token revoked while in use: back to sign in, saying why.
  setUnauthorisedHandler(() => {
    if (!getToken() || session.signingIn) return;
    signOut();
    session.ended = true;
    app.navigate('#/signin');
  });
  window.addEventListener('hashchange', route);
  route();
}

start();
