// One thread: the conversation with the classifiers' reasons (matched words
// highlighted), each organisation's state and actions, notes, replies and
// the composer with tone hints, the listening ledger and the audit log.
import {ApiError, get, post} from '../api.js';
import {button, scrollBox, select, summaryList, table, tag, tagList, textarea, textInput,
  warningCallout} from '../components.js';
import {externalLink, h, safeHttpUrl} from '../dom.js';
import {formatTime, timeElement} from '../format.js';
import {highlighted, sliceBytes} from '../highlight.js';
import {orgLabel, session} from '../session.js';
import {criticalityTag, orgStateTag, replyStateTag, sentimentTag, stateTag, topicTag} from './tags.js';

const DISMISS_REASONS = ['not about us', 'not a patient story', 'spam'];
const DECISION_KINDS = {
  org: 'Organisation', unrouted: 'Unrouted mention', topic: 'Topic', sentiment: 'Sentiment',
  criticality: 'Criticality', relevance: 'Relevance', redaction: 'Redaction',
};
const JOIN_REASONS = {
  opened: null, reply: 'Reply', conversation: 'In the conversation', repeat: 'Posted again',
  ours: 'Our reply',
};

// What survives a refresh of the page after an action, per thread.
// Only for the person signed in: the tab may be shared, and the next one
// must not see the last one's draft quoted in its hints.
const memory = new Map();
let memoryEpoch = session.epoch;
function remembered(threadId) {
  if (memoryEpoch !== session.epoch) {
    memory.clear();
    memoryEpoch = session.epoch;
  }
  if (!memory.has(threadId)) memory.set(threadId, {hints: null, publishNotice: null});
  return memory.get(threadId);
}

function canAct(org) {
  return session.user?.role === 'admin' || session.canAct.has(org);
}

function section(id, title, ...body) {
  return h('section', {class: 'earshot-section', 'aria-labelledby': id},
    h('h2', {id, tabindex: '-1'}, title), body);
}

function postHeader(post, platform) {
  const how = JOIN_REASONS[post.how];
  const link = safeHttpUrl(post.uid);
  return h('p', {class: 'earshot-post__meta'},
    h('strong', {class: 'earshot-post__author'}, post.author || 'Unknown author'),
    ' · ', timeElement(post.created_at ?? post.joined_at),
    how ? [' ', tag(how, post.how === 'ours' ? 'green' : 'grey')] : null,
    post.deleted ? [' ', tag('Deleted on the platform', 'red')] : null,
    link ? [' · ', externalLink(link, `View on ${platform || 'the platform'}`)] : null);
}

function conversation(thread) {
  const posts = Array.isArray(thread.conversation) ? thread.conversation : [thread.opening_post];
  return h('ol', {class: 'earshot-conversation'},
    posts.filter(Boolean).map((p) => {
      const spans = (p.decisions ?? []).filter((d) => d.start !== undefined && d.start !== null);
      return h('li', {class: `earshot-post${p.how === 'ours' ? ' earshot-post--ours' : ''}`},
        h('article', {},
          postHeader(p, thread.platform),
          h('p', {class: 'earshot-post__text'}, highlighted(p.text ?? '', spans))));
    }));
}

function decisionValue(d) {
  if (d.kind === 'org') return orgLabel(d.value);
  if (d.kind === 'topic' && d.detail) return `${d.value} (${d.detail})`;
  if (d.kind === 'unrouted' && d.detail) return `${d.value} (could be ${d.detail})`;
  return d.value;
}

function whyHere(thread) {
  const rows = [];
  const posts = Array.isArray(thread.conversation) ? thread.conversation : [];
  posts.forEach((p, index) => {
    for (const d of p.decisions ?? []) {
      const matched = d.start !== undefined && d.start !== null ?
        sliceBytes(p.text ?? '', d.start, d.end) : '';
      rows.push([
        `${index + 1}`,
        DECISION_KINDS[d.kind] ?? d.kind,
        decisionValue(d),
        d.rule ? h('span', {class: 'earshot-rule'}, d.rule,
          d.rule_version ? ` (version ${d.rule_version})` : '') : '–',
        matched ? h('mark', {class: 'earshot-match'}, matched) : '–',
      ]);
    }
  });
  if (!rows.length) return h('p', {}, 'No classification decisions are recorded for these posts.');
  return scrollBox('Decisions',
    table('The classifiers\u2019 decisions, post by post', ['Post', 'Decision', 'Value', 'Rule',
      'Matched words'], rows, {captionHidden: true}));
}

// Runs an action: disables its button, posts, refreshes the page and moves
// focus to `focusId` (a stable element id); errors go to the error summary.
function action(app, refresh, control, run, {success, focusId}) {
  return async (event) => {
    event?.preventDefault();
    app.clearErrors();
    control.disabled = true;
    try {
      await run();
      await refresh(focusId);
      app.announce(success);
    } catch (error) {
      control.disabled = false;
      app.showErrors([{message: error.message}]);
    }
  };
}

function organisation(app, refresh, thread, org) {
  const headingId = `org-${org.org}`;
  const rows = [
    ['State', stateTag(org.state)],
    ['Assigned to', org.assignee || 'Nobody'],
    org.state === 'dismissed' ? ['Dismissed because', org.dismiss_reason || 'no reason given'] : null,
    ['Routed by', org.rule ? h('span', {class: 'earshot-rule'}, org.rule) : '–'],
    ['Alerted', timeElement(org.alerted_at)],
    ['Last changed', timeElement(org.updated_at)],
  ];
  const parts = [h('h3', {id: headingId, tabindex: '-1'}, orgLabel(org.org)), summaryList(rows)];
  if (canAct(org.org)) {
    const path = `/api/threads/${thread.id}`;
    const assignee = textInput('Assign to', {name: `assign-${org.org}`, value: org.assignee ?? '',
      hint: 'A user name; leave it empty to unassign'});
    const assign = button('Assign', {secondary: true, type: 'submit'});
    const assignForm = h('form', {class: 'earshot-inline-form', novalidate: true},
      assignee.group, assign);
    assignForm.addEventListener('submit', action(app, refresh, assign,
      () => post(`${path}/assign`, {org: org.org, user: assignee.control.value.trim()}),
      {success: 'Assignment saved', focusId: headingId}));
    parts.push(assignForm);

    if (org.state === 'closed' || org.state === 'dismissed') {
      const reopen = button('Reopen', {secondary: true});
      reopen.addEventListener('click', action(app, refresh, reopen,
        () => post(`${path}/status`, {org: org.org, status: org.assignee ? 'assigned' : 'new'}),
        {success: 'Thread reopened', focusId: headingId}));
      parts.push(h('div', {class: 'nhsuk-button-group'}, reopen));
    } else {
      const close = button('Close', {secondary: true});
      close.addEventListener('click', action(app, refresh, close,
        () => post(`${path}/status`, {org: org.org, status: 'closed'}),
        {success: 'Thread closed', focusId: headingId}));
      const reason = select('Reason', DISMISS_REASONS.map((r) => [r, r]),
        {name: `reason-${org.org}`, hint: 'Why this thread is not for this organisation'});
      const dismiss = button('Dismiss', {warning: true, type: 'submit'});
      const dismissForm = h('form', {class: 'earshot-inline-form', novalidate: true},
        reason.group, dismiss);
      dismissForm.addEventListener('submit', action(app, refresh, dismiss,
        () => post(`${path}/status`,
          {org: org.org, status: 'dismissed', reason: reason.control.value}),
        {success: 'Thread dismissed', focusId: headingId}));
      parts.push(h('div', {class: 'nhsuk-button-group'}, close), dismissForm);
    }
  }
  return h('section', {class: 'earshot-org', 'aria-labelledby': headingId}, parts);
}

function peopleAt(entries, withUrl = false) {
  if (!Array.isArray(entries) || entries.length === 0) return 'Nobody yet';
  return h('ul', {class: 'nhsuk-list earshot-compact-list'}, entries.map((e) => h('li', {},
    e.user ?? 'someone', ', ', timeElement(e.at),
    withUrl && safeHttpUrl(e.url) ? [' (', externalLink(e.url, 'the reply'), ')'] : null)));
}

function listening(thread) {
  const rows = thread.listening.map((l) => [
    orgLabel(l.org),
    timeElement(l.alerted_at),
    peopleAt(l.opened),
    peopleAt(l.drafted),
    peopleAt(l.replied, true),
    l.first_response_at ? timeElement(l.first_response_at) : 'No response yet',
  ]);
  if (!rows.length) return h('p', {}, 'Nothing is recorded yet.');
  return scrollBox('Listening ledger',
    table('Who has seen and answered this thread', ['Organisation', 'Alerted', 'Opened by',
      'Drafted by', 'Replied by', 'First response'], rows, {rowHeaders: true, captionHidden: true}));
}

function notes(app, refresh, thread, actable) {
  const list = (thread.notes ?? []).length ?
    h('ul', {class: 'earshot-notes'}, thread.notes.map((n) => h('li', {class: 'earshot-note'},
      h('p', {class: 'earshot-note__meta nhsuk-body-s'},
        h('strong', {}, n.author), ' for ', n.org, ' · ', timeElement(n.created_at)),
      h('p', {class: 'earshot-note__body'}, n.body)))) :
    h('p', {}, 'No notes yet.');
  if (!actable.length) return [list];
  const forOrg = actable.length > 1 ?
    select('Note for', actable.map((o) => [o, orgLabel(o)]), {name: 'note-org'}) : null;
  const body = textarea('Add a note', {name: 'note', rows: 3,
    hint: actable.length > 1 ? 'Seen only by people of the organisation chosen above' :
      `Seen only by people of ${orgLabel(actable[0])}`});
  const add = button('Add note', {secondary: true, type: 'submit'});
  const form = h('form', {novalidate: true, class: 'earshot-note-form'},
    forOrg?.group, body.group, add);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    body.setError(null);
    if (!body.control.value.trim()) {
      body.setError('Enter a note');
      app.showErrors([{message: 'Enter a note', field: body.control}]);
      return;
    }
    action(app, refresh, add, () => post(`/api/threads/${thread.id}/notes`,
      {org: forOrg ? forOrg.control.value : actable[0], body: body.control.value}),
    {success: 'Note added', focusId: 'notes-heading'})();
  });
  return [list, form];
}

function replyOutcome(reply) {
  if (reply.state === 'published') {
    return safeHttpUrl(reply.url) ? h('p', {}, externalLink(reply.url, 'View published reply')) :
      h('p', {}, 'Published', reply.url ? ` at ${reply.url}` : '');
  }
  if (reply.state === 'failed') {
    return h('p', {class: 'earshot-reply__error'},
      h('strong', {}, 'The platform said: '), reply.platform_error || 'no reason given');
  }
  if (reply.state === 'answer_on_platform') {
    return h('p', {},
      'This platform does not take replies from earshot. ',
      safeHttpUrl(reply.url) ? externalLink(reply.url, 'Answer on the platform') :
        'Answer on the platform.');
  }
  return null;
}

function replies(app, refresh, thread) {
  const memo = remembered(thread.id);
  const items = (thread.replies ?? []).map((reply) => {
    const buttons = [];
    if (canAct(reply.org)) {
      if (reply.state === 'draft' &&
          (!session.user?.name || session.user.name !== reply.author)) {
        const approve = button('Approve', {secondary: true});
        approve.addEventListener('click', action(app, refresh, approve,
          () => post(`/api/replies/${reply.id}/approve`, {}),
          {success: 'Reply approved', focusId: `reply-${reply.id}`}));
        buttons.push(approve);
      }
      if (['draft', 'approved', 'failed'].includes(reply.state)) {
        const publish = button('Publish');
        publish.addEventListener('click', action(app, refresh, publish, async () => {
          let result;
          try {
            result = await post(`/api/replies/${reply.id}/publish`, {});
          } catch (error) {
            if (error instanceof ApiError && error.status === 404 &&
                error.message === 'no such endpoint') {
              throw new Error('This earshot cannot publish replies yet: ' +
                'publish with earshot threads publish.');
            }
            throw error;
          }
          memo.publishNotice = result?.outcome_unknown ? reply.id : null;
        }, {success: 'Publishing finished', focusId: `reply-${reply.id}`}));
        buttons.push(publish);
      }
    }
    const unknown = memo.publishNotice === reply.id;
    return h('li', {class: 'earshot-reply'},
      h('article', {'aria-labelledby': `reply-${reply.id}`},
        h('h3', {class: 'nhsuk-heading-xs earshot-reply__title', id: `reply-${reply.id}`,
          tabindex: '-1'}, `Reply ${reply.id} for ${orgLabel(reply.org)} `, replyStateTag(reply.state)),
        h('p', {class: 'earshot-reply__meta nhsuk-body-s'},
          'Drafted by ', h('strong', {}, reply.author || 'someone'), ', ',
          timeElement(reply.created_at),
          reply.approver ? [' · approved by ', h('strong', {}, reply.approver)] : null,
          reply.updated_at && reply.updated_at !== reply.created_at ?
            [' · last changed ', timeElement(reply.updated_at)] : null),
        h('blockquote', {class: 'earshot-reply__body'}, reply.body),
        replyOutcome(reply),
        unknown ? warningCallout('Check the platform',
          h('p', {}, 'earshot could not tell whether the platform took this reply. ' +
            'Look on the platform before publishing it again.')) : null,
        buttons.length ? h('div', {class: 'nhsuk-button-group'}, buttons) : null));
  });
  if (!items.length) return h('p', {}, 'No replies yet.');
  return h('ul', {class: 'earshot-replies'}, items);
}

function hintList(memo) {
  const saved = memo.hints;
  if (!saved) return null;
  let body;
  if (!Array.isArray(saved.hints)) {
    body = h('p', {}, 'This earshot gives no tone hints. Read the draft again before publishing.');
  } else if (saved.hints.length === 0) {
    body = h('p', {}, 'Nothing to point out in this draft.');
  } else {
    body = h('ul', {class: 'earshot-hints'}, saved.hints.map((hint) => {
      const quoted = Number.isInteger(hint.start) && Number.isInteger(hint.end) ?
        sliceBytes(saved.body, hint.start, hint.end) : '';
      return h('li', {}, hint.message || hint.kind,
        quoted ? [': ', h('q', {}, h('mark', {class: 'earshot-match'}, quoted))] : null);
    }));
  }
  return h('div', {class: 'earshot-hints-box', id: 'earshot-hints'},
    warningCallout('Before you publish',
      h('p', {}, `About reply ${saved.replyId}, saved as a draft. These are hints, not rules.`),
      body));
}

function composer(app, refresh, thread, actable) {
  const memo = remembered(thread.id);
  const as = select('Reply as', actable.map((o) => [o, orgLabel(o)]), {name: 'reply-org'});
  const body = textarea('Your reply', {name: 'reply', rows: 6,
    hint: 'Published in public, in your organisation\u2019s name, as a reply to the first post. ' +
      'Do not include personal details.'});
  const save = button('Save draft', {type: 'submit'});
  const form = h('form', {novalidate: true, class: 'earshot-composer'}, as.group, body.group, save);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    body.setError(null);
    const text = body.control.value;
    if (!text.trim()) {
      body.setError('Enter your reply');
      app.showErrors([{message: 'Enter your reply', field: body.control}]);
      return;
    }
    action(app, refresh, save, async () => {
      const result = await post(`/api/threads/${thread.id}/replies`,
        {org: as.control.value, body: text});
      memo.hints = {replyId: result?.reply?.id, body: text, hints: result?.hints};
    }, {success: 'Draft saved', focusId: 'earshot-hints'})();
  });
  return [form, hintList(memo)];
}

function audit(thread) {
  const entries = thread.audit ?? [];
  if (!entries.length) return h('p', {}, 'Nothing recorded yet.');
  return scrollBox('Audit log',
    table('Every action on this thread', ['When', 'Who', 'Action', 'Organisation', 'Detail'],
      entries.map((e) => [timeElement(e.at), e.actor, e.action, e.org || '–', e.detail || '–']),
      {captionHidden: true}));
}

function build(app, refresh, thread) {
  const orgs = thread.orgs ?? [];
  const actable = orgs.map((o) => o.org).filter(canAct);
  const topics = (thread.topics ?? []).map(topicTag);
  const criticality = (thread.criticality ?? []).map(criticalityTag);
  const parts = [
    h('span', {class: 'nhsuk-caption-l'}, `${thread.platform ?? ''} thread`.trim()),
    h('h1', {tabindex: '-1'}, `Thread ${thread.id}`),
    tagList(orgs.map(orgStateTag)),
    h('div', {class: 'nhsuk-grid-row'}, h('div', {class: 'nhsuk-grid-column-two-thirds'},
      summaryList([
      ['Opened', timeElement(thread.opened_at)],
      ['Last activity', timeElement(thread.last_activity_at)],
      ['Posts', `${thread.posts ?? (thread.conversation ?? []).length}` +
        (thread.deleted_posts ? ` (${thread.deleted_posts} deleted on the platform)` : '')],
      ['Topics', topics.length ? tagList(topics) : 'None'],
      ['Sentiment', thread.sentiment ? sentimentTag(thread.sentiment) : 'Not known'],
      ['Criticality', criticality.length ? tagList(criticality) : 'None flagged'],
      ]))),
  ];
  // Reading and answering on the left; the organisations' state and their
  // internal notes beside it; the records below.
  const main = [
    section('conversation-heading', 'Conversation', conversation(thread)),
    section('replies-heading', 'Replies', replies(app, refresh, thread)),
    actable.length ?
      section('compose-heading', 'Write a reply', composer(app, refresh, thread, actable)) : null,
    section('why-heading', 'Why this is here',
      h('p', {}, 'What the classifiers decided about each post, and the rule that decided it. ' +
        'Matched words are highlighted in the conversation.'),
      whyHere(thread)),
  ];
  const side = [
    section('orgs-heading', 'Organisations',
      orgs.length ? orgs.map((o) => organisation(app, refresh, thread, o)) :
        h('p', {}, 'No organisation you can see is on this thread.')),
    section('notes-heading', 'Notes',
      h('p', {class: 'nhsuk-body-s'}, 'Internal: never published, never shown to another organisation.'),
      notes(app, refresh, thread, actable)),
  ];
  parts.push(h('div', {class: 'nhsuk-grid-row'},
    h('div', {class: 'nhsuk-grid-column-two-thirds'}, main),
    h('div', {class: 'nhsuk-grid-column-one-third'}, side)));
  if (Array.isArray(thread.listening)) {
    parts.push(section('listening-heading', 'Listening', listening(thread)));
  }
  parts.push(section('audit-heading', 'Audit', audit(thread)));
  return parts;
}

export async function renderThread(app, threadId) {
  document.title = `Thread ${threadId} – earshot`;
  const back = h('a', {class: 'nhsuk-back-link', href: '#/inbox'}, 'Back');
  let data;
  try {
    data = await get(`/api/threads/${threadId}`);
  } catch (error) {
    const missing = error instanceof ApiError && error.status === 404;
    app.page.replaceChildren(back,
      h('h1', {tabindex: '-1'}, missing ? 'Thread not found' : `Thread ${threadId}`),
      missing ? h('p', {}, 'There is no such thread, or it is not one of your organisations\u2019.') : null);
    if (!missing) app.showErrors([{message: error.message}]);
    return;
  }
  const refresh = async (focusId) => {
    const fresh = await get(`/api/threads/${threadId}`);
    app.page.replaceChildren(back, ...build(app, refresh, fresh.thread));
    const target = focusId && document.getElementById(focusId);
    if (target) {
      if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
      target.focus();
    }
  };
  app.page.replaceChildren(back, ...build(app, refresh, data.thread));
}
