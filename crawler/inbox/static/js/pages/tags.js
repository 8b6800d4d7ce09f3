// Tags for states and classifications, one colour per meaning.
import {tag} from '../components.js';
import {ORG_STATE_LABELS, REPLY_STATE_LABELS} from '../format.js';

const ORG_STATE_COLOURS = {
  new: 'blue', assigned: 'aqua-green', responded: 'green', closed: 'grey', dismissed: 'white',
};
const REPLY_STATE_COLOURS = {
  draft: 'grey', approved: 'blue', publishing: 'yellow', published: 'green', failed: 'red',
  answer_on_platform: 'orange',
};
const SENTIMENT_COLOURS = {negative: 'orange', mixed: 'yellow', neutral: 'grey', positive: 'green'};

// "RHQ: New"
export function orgStateTag(org) {
  return tag(`${org.org}: ${ORG_STATE_LABELS[org.state] ?? org.state}`,
    ORG_STATE_COLOURS[org.state]);
}

export function stateTag(state) {
  return tag(ORG_STATE_LABELS[state] ?? state, ORG_STATE_COLOURS[state]);
}

export function replyStateTag(state) {
  return tag(REPLY_STATE_LABELS[state] ?? state, REPLY_STATE_COLOURS[state]);
}

export function sentimentTag(sentiment) {
  return tag(sentiment, SENTIMENT_COLOURS[sentiment]);
}

// A QDC topic ({topic, category, rule}).
export function topicTag(topic) {
  return tag(topic.topic, 'purple');
}

// A criticality flag: "self_harm" reads "self harm".
export function criticalityTag(flag) {
  return tag(flag.replaceAll('_', ' '), 'red');
}
