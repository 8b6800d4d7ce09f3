// Times and durations for people: absolute, in the browser's locale and
// time zone, with the exact time kept in <time datetime>.
import {h} from './dom.js';

const dateTime = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short'});

export function formatTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : dateTime.format(date);
}

// <time datetime="2026-09-22T10:00:00Z">22 Sept 2026, 11:00</time>
export function timeElement(iso) {
  if (!iso) return h('span', {}, 'not recorded');
  return h('time', {datetime: iso}, formatTime(iso));
}

// 5400 -> "1 hour 30 minutes"
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return 'none yet';
  let rest = Math.max(0, Math.round(Number(seconds)));
  const parts = [];
  for (const [unit, size] of [['day', 86400], ['hour', 3600], ['minute', 60]]) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count} ${unit}${count === 1 ? '' : 's'}`);
    rest -= count * size;
  }
  if (parts.length === 0) return 'under a minute';
  return parts.slice(0, 2).join(' ');
}

export function formatShare(share) {
  if (share === null || share === undefined) return '–';
  return `${Math.round(Number(share) * 100)}%`;
}

// Human names for the API's state values.
export const ORG_STATE_LABELS = {
  new: 'New', assigned: 'Assigned', responded: 'Responded', closed: 'Closed', dismissed: 'Dismissed',
};
export const REPLY_STATE_LABELS = {
  draft: 'Draft', approved: 'Approved', publishing: 'Publishing', published: 'Published',
  failed: 'Failed', answer_on_platform: 'Answer on the platform',
};
