// Listening: per organisation, how many threads reached it, how many were
// answered and how fast (GET /api/listening).
import {ApiError, get, query} from '../api.js';
import {button, scrollBox, table, textInput} from '../components.js';
import {h} from '../dom.js';
import {formatDuration, formatShare} from '../format.js';
import {orgLabel} from '../session.js';

export async function renderListening(app, params = new URLSearchParams()) {
  document.title = 'Listening – earshot';
  const from = textInput('From', {name: 'from', type: 'date', value: params.get('from') ?? ''});
  const to = textInput('To', {name: 'to', type: 'date', value: params.get('to') ?? ''});
  const show = button('Show', {type: 'submit', secondary: true});
  const form = h('form', {class: 'earshot-inline-form', novalidate: true, 'aria-label': 'Period'},
    from.group, to.group, show);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const q = query({from: from.control.value, to: to.control.value}).slice(1);
    app.navigate(q ? `#/listening?${q}` : '#/listening');
  });
  const results = h('div', {});
  app.page.replaceChildren(
    h('h1', {tabindex: '-1'}, 'Listening'),
    h('p', {}, 'For each organisation: the threads that reached it, how many were answered in ' +
      'public, and how long the first answer took.'),
    form, results);

  let data;
  try {
    data = await get(`/api/listening${query({from: params.get('from'), to: params.get('to')})}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      form.hidden = true;
      results.replaceChildren(h('p', {}, 'This earshot does not report listening figures yet.'));
      return;
    }
    app.showErrors([{message: error.message}]);
    return;
  }
  const orgs = Array.isArray(data?.orgs) ? data.orgs : [];
  if (!orgs.length) {
    results.replaceChildren(h('p', {}, 'No threads have reached your organisations in this period.'));
    return;
  }
  results.replaceChildren(scrollBox('Listening by organisation',
    table('Threads answered, by organisation',
      ['Organisation', 'Threads', 'Answered', 'Share answered', 'Median time to first response',
        'Open'],
      orgs.map((o) => [
        o.name ? `${o.name} (${o.org})` : orgLabel(o.org),
        String(o.threads ?? 0),
        String(o.answered ?? 0),
        formatShare(o.share_answered),
        formatDuration(o.median_first_response_seconds),
        String(o.open ?? 0),
      ]), {rowHeaders: true})));
}
