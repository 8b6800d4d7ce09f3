// Building the page from DOM nodes. Every piece of text, above all what the
// API returns (posts, notes, names), becomes a Text node: it is never parsed
// as HTML, so a post containing <script> shows as the characters it is.
// Attributes are set one by one; event handler attributes and inline styles
// are refused (the Content-Security-Policy forbids them anyway).

// h('p', {class: 'nhsuk-body'}, 'text', child, [more, children])
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (/^on/i.test(name) || name === 'style') {
      throw new Error(`h(): attribute ${name} is not allowed`);
    }
    element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

// Appends children: strings and numbers as Text nodes, nodes as they are,
// arrays flattened; null, undefined and false are skipped.
export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) {
      append(parent, child);
    } else if (child instanceof Node) {
      parent.appendChild(child);
    } else {
      parent.appendChild(document.createTextNode(String(child)));
    }
  }
  return parent;
}

export function text(value) {
  return document.createTextNode(String(value ?? ''));
}

// Unique element ids for labels and descriptions.
let lastId = 0;
export function uid(prefix) {
  lastId += 1;
  return `${prefix}-${lastId}`;
}

// A link to a URL from the API, only when it is http(s): a
// URL of another scheme (script URLs from a hostile post) is shown as text.
export function safeHttpUrl(value) {
  if (typeof value !== 'string') return null;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

export function externalLink(url, label) {
  const href = safeHttpUrl(url);
  if (!href) return h('span', {}, label);
  // The link's name stays exactly `label`; "opens in a new tab" is its
  // description (a hidden element of the shell, index.html).
  return h('a', {href, rel: 'noopener noreferrer', target: '_blank',
    'aria-describedby': 'earshot-new-tab'}, label);
}
