// The inbox: threads the user may read, filtered (the filters live in the
// location hash, so a filtered inbox can be bookmarked and Back works), with
// keyset pagination ("Load more").
import {get, query} from '../api.js';
import {button, select, tag, tagList, textInput} from '../components.js';
import {h} from '../dom.js';
import {formatTime, ORG_STATE_LABELS} from '../format.js';
import {orgLabel, session} from '../session.js';
import {criticalityTag, orgStateTag, sentimentTag, topicTag} from './tags.js';

const FILTERS = ['org', 'status', 'topic', 'sentiment', 'platform', 'q', 'from', 'to'];
const PLATFORMS = ['bluesky', 'discourse', 'feed', 'mastodon', 'reddit', 'x'];
const PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 200;  // the API's
const PREVIEW_CHARACTERS = 140;

// The API's `to` is exclusive; the form's "To" date is the last day shown.
function dayAfter(isoDate) {
  const date = new Date(`${isoDate}T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return isoDate;
  date.setUTCDate(date.getUTCDate() + 1);
  return date.toISOString().slice(0, 10);
}

function apiQuery(filters, next, limit) {
  const params = {limit};
  for (const name of FILTERS) params[name] = filters[name];
  if (filters.to) params.to = dayAfter(filters.to);
  if (next) params.next = next;
  return query(params);
}

// The opening post's first 140 characters (code points, not UTF-16 units).
export function preview(value) {
  const characters = Array.from(value ?? '');
  const head = characters.slice(0, PREVIEW_CHARACTERS).join('');
  return characters.length > PREVIEW_CHARACTERS ? `${head}…` : head;
}

function threadItem(thread) {
  const opening = thread.opening_post ?? {};
  const text = opening.text?.trim() ? preview(opening.text) : `Thread ${thread.id} (no text)`;
  const tags = [
    ...(thread.orgs ?? []).map(orgStateTag),
    ...(thread.topics ?? []).map(topicTag),
    thread.sentiment ? sentimentTag(thread.sentiment) : null,
    ...(thread.criticality ?? []).map(criticalityTag),
    thread.platform ? tag(thread.platform, 'white') : null,
  ];
  const posts = Number(thread.posts ?? 1);
  return h('li', {class: 'earshot-thread'},
    h('h3', {class: 'earshot-thread__title nhsuk-heading-xs'},
      h('a', {href: `#/threads/${thread.id}`, class: 'earshot-thread__link'}, text)),
    h('p', {class: 'earshot-thread__meta nhsuk-body-s'},
      opening.author ? h('span', {class: 'earshot-thread__author'}, opening.author) : null,
      opening.author ? ' · ' : null,
      'opened ', h('time', {datetime: thread.opened_at ?? ''}, formatTime(thread.opened_at)),
      ` · ${posts} ${posts === 1 ? 'post' : 'posts'}`,
      ` · thread ${thread.id}`),
    tagList(tags));
}

function filterForm(app, filters, limit) {
  const orgOptions = [['', 'All organisations'],
    ...session.orgs.map((o) => [o.org, orgLabel(o.org)])];
  if (filters.org && !session.orgs.some((o) => o.org === filters.org)) {
    orgOptions.push([filters.org, filters.org]);
  }
  const platforms = PLATFORMS.includes(filters.platform) || !filters.platform ? PLATFORMS :
    [...PLATFORMS, filters.platform];
  const controls = {
    org: select('Organisation', orgOptions, {name: 'org', value: filters.org}),
    status: select('Status', [['', 'Any status'],
      ...Object.entries(ORG_STATE_LABELS)], {name: 'status', value: filters.status}),
    sentiment: select('Sentiment', [['', 'Any sentiment'], ['negative', 'Negative'],
      ['mixed', 'Mixed'], ['neutral', 'Neutral'], ['positive', 'Positive']],
    {name: 'sentiment', value: filters.sentiment}),
    platform: select('Platform', [['', 'Any platform'], ...platforms.map((p) => [p, p])],
      {name: 'platform', value: filters.platform}),
    topic: textInput('Topic', {name: 'topic', value: filters.topic}),
    q: textInput('Search', {name: 'q', value: filters.q, type: 'search'}),
    from: textInput('From', {name: 'from', value: filters.from, type: 'date'}),
    to: textInput('To', {name: 'to', value: filters.to, type: 'date'}),
  };
  const apply = button('Apply filters', {type: 'submit'});
  const clear = button('Clear filters', {secondary: true});
  const form = h('form', {class: 'earshot-filters', novalidate: true, role: 'search',
    'aria-label': 'Filter threads'},
  h('div', {class: 'earshot-filters__grid'}, Object.values(controls).map((c) => c.group)),
  h('div', {class: 'nhsuk-button-group'}, apply, clear));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const values = Object.fromEntries(FILTERS.map((name) => [name, controls[name].control.value.trim()]));
    app.navigate(`#/inbox${query({...values, limit})}`);
  });
  clear.addEventListener('click', () => app.navigate(limit ? `#/inbox?limit=${encodeURIComponent(limit)}` : '#/inbox'));
  return form;
}

export async function renderInbox(app, params) {
  document.title = 'Inbox – earshot';
  const filters = {};
  for (const name of FILTERS) filters[name] = params.get(name) ?? '';
  const filtered = FILTERS.some((name) => filters[name]);
  // `limit` in the hash (not in the form) sets the page size.
  const asked = Number.parseInt(params.get('limit') ?? '', 10);
  const limit = asked >= 1 && asked <= MAX_PAGE_SIZE ? asked : PAGE_SIZE;

  const list = h('ul', {class: 'earshot-thread-list', 'aria-label': 'Threads'});
  const summary = h('p', {class: 'earshot-result-count', 'aria-live': 'polite'});
  const more = button('Load more', {secondary: true});
  more.hidden = true;
  const results = h('section', {'aria-labelledby': 'earshot-results-heading'},
    h('h2', {id: 'earshot-results-heading', class: 'nhsuk-u-visually-hidden'}, 'Threads'),
    summary, list, more);

  app.page.replaceChildren(
    h('h1', {tabindex: '-1'}, 'Inbox'),
    h('details', {class: 'nhsuk-details earshot-filter-details', open: true},
      h('summary', {class: 'nhsuk-details__summary'},
        h('span', {class: 'nhsuk-details__summary-text'}, filtered ? 'Filters (in use)' : 'Filters')),
      h('div', {class: 'nhsuk-details__text'}, filterForm(app, filters, params.get('limit')))),
    results);

  let shown = 0;
  let next = null;
  const load = async () => {
    more.disabled = true;
    try {
      const page = await get(`/api/threads${apiQuery(filters, next, limit)}`);
      const threads = Array.isArray(page?.threads) ? page.threads : [];
      const items = threads.map(threadItem);
      list.append(...items);
      const firstNew = items[0] ?? null;
      shown += threads.length;
      next = page?.next ?? null;
      more.hidden = !next;
      if (shown === 0 && !next) {
        summary.textContent = filtered ? 'No threads match these filters' :
          'No threads match these filters. Nothing has been routed to your organisations yet.';
      } else {
        summary.textContent = `Showing ${shown} ${shown === 1 ? 'thread' : 'threads'}` +
          (next ? ' (there are more)' : '');
      }
      return firstNew;
    } catch (error) {
      app.showErrors([{message: error.message}]);
      return null;
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', async () => {
    const firstNew = await load();
    // Keyboard users continue at the first thread just loaded.
    firstNew?.querySelector('a')?.focus();
  });
  await load();
}
