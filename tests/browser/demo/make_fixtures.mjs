// Writes the demo's Mastodon fixtures (mastodon/*.json) from the posts below.
// Every post is invented for earshot's browser tests. Run it after editing:
//   node tests/browser/demo/make_fixtures.mjs
// {{base}} in the output is replaced by the fixture server's base URL when
// served (crawler/server/fixture_server.h).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

// Mastodon HTML-escapes what people type; `content` below is that HTML.
function escapeHtml(text) {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function account(instance, username, displayName) {
  return {
    id: String(110000000000000000n + BigInt(username.length * 7919)),
    username,
    acct: username,
    display_name: displayName,
    locked: false,
    bot: false,
    discoverable: true,
    group: false,
    created_at: '2024-02-01T00:00:00.000Z',
    note: '',
    url: `{{base}}/${instance}/@${username}`,
    uri: `{{base}}/${instance}/users/${username}`,
    avatar: `{{base}}/${instance}/avatars/original/missing.png`,
    avatar_static: `{{base}}/${instance}/avatars/original/missing.png`,
    header: `{{base}}/${instance}/headers/original/missing.png`,
    header_static: `{{base}}/${instance}/headers/original/missing.png`,
    followers_count: 42,
    following_count: 40,
    statuses_count: 300,
    last_status_at: '2026-11-22',
    emojis: [],
    fields: [],
  };
}

function status(instance, { id, createdAt, username, displayName, text, inReplyTo = null }) {
  const paragraphs = text.split('\n\n').map((p) => `<p>${escapeHtml(p)}</p>`).join('');
  return {
    id,
    created_at: createdAt,
    in_reply_to_id: inReplyTo,
    in_reply_to_account_id: null,
    sensitive: false,
    spoiler_text: '',
    visibility: 'public',
    language: 'en',
    uri: `{{base}}/${instance}/users/${username}/statuses/${id}`,
    url: `{{base}}/${instance}/@${username}/${id}`,
    replies_count: 0,
    reblogs_count: 0,
    favourites_count: 3,
    edited_at: null,
    content: paragraphs +
        `<p><a href="{{base}}/${instance}/tags/nhs" class="mention hashtag" rel="tag">#<span>NHS</span></a></p>`,
    reblog: null,
    application: null,
    account: account(instance, username, displayName),
    media_attachments: [],
    mentions: [],
    tags: [{ name: 'nhs', url: `{{base}}/${instance}/tags/nhs` }],
    emojis: [],
    card: null,
    poll: null,
  };
}

// The "sheffield" instance: posts about Sheffield Teaching Hospitals (RHQ),
// plus one that names no organisation (never a thread).
export const sheffield = [
  {
    id: '117700000000000103',
    createdAt: '2026-11-22T08:15:00.000Z',
    username: 'cafe_chloe',
    displayName: 'Chloé ☕',
    // Non-ASCII before the organisation's name: the highlight must still
    // land on "Northern General" (UTF-8 byte offsets vs UTF-16 indices).
    text: 'Café crème at 3am 😴🏥 — élan gone. Waiting room at the Northern General was freezing and nobody told us how long the wait would be.',
  },
  {
    id: '117700000000000102',
    createdAt: '2026-11-22T07:40:00.000Z',
    username: 'dad_carer_dave',
    displayName: 'Dave (carer)',
    text: 'Waited nine hours in A&E at the Northern General with my dad last night. The nurses were kind but clearly run off their feet. Nobody could tell us when he would be seen.',
  },
  {
    id: '117700000000000101',
    createdAt: '2026-11-22T07:05:00.000Z',
    username: 'weekend_walker',
    displayName: 'Weekend walker',
    text: 'Lovely frosty walk along the river this morning. Remember to check on your elderly neighbours in the cold.',
  },
];

// The "leeds" instance: posts about Leeds Teaching Hospitals (RR8), one of
// them hostile (markup typed as text must stay text).
export const leeds = [
  {
    id: '117700000000000202',
    createdAt: '2026-11-22T08:30:00.000Z',
    username: 'markup_mel',
    displayName: 'Mel <b>bold</b>',
    text: 'Leeds General Infirmary parking is a nightmare <script>alert(1)</script> and the outpatients letter came after the appointment <img src=x onerror=alert(1)>',
  },
  {
    id: '117700000000000201',
    createdAt: '2026-11-22T06:50:00.000Z',
    username: 'mum_of_three',
    displayName: 'Priya',
    text: "Leeds General Infirmary cancelled my mum's operation for the second time, the day before. Nobody has rung to rebook it.",
  },
];

// The write API's answer to the one reply the tests publish from the
// sheffield account: Mastodon returns the new status, on its own instance.
export const publishedReply = {
  ...status('sheffield', {
    id: '117700000000009001',
    createdAt: '2026-11-22T09:00:00.000Z',
    username: 'sth_nhs',
    displayName: 'Sheffield Teaching Hospitals',
    text: 'Thank you for telling us.',
    inReplyTo: '117700000000000102',
  }),
};

function write(name, value) {
  writeFileSync(join(here, 'mastodon', name), JSON.stringify(value, null, 2) + '\n');
}

write('sheffield_tag_nhs.json', sheffield.map((p) => status('sheffield', p)));
write('leeds_tag_nhs.json', leeds.map((p) => status('leeds', p)));
write('sheffield_reply.json', publishedReply);
