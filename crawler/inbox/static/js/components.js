// The NHS design system's components (service-manual.nhs.uk/design-system),
// built as DOM nodes with the classes nhsuk-frontend's CSS styles.
import {h, uid} from './dom.js';

export function tag(label, colour) {
  return h('strong', {class: colour ? `nhsuk-tag nhsuk-tag--${colour}` : 'nhsuk-tag'}, label);
}

export function tagList(tags) {
  const items = tags.filter(Boolean).map((t) => h('li', {}, t));
  return h('ul', {class: 'earshot-tags'}, items);
}

export function button(label, {secondary = false, warning = false, small = false, type = 'button'} = {}) {
  const classes = ['nhsuk-button'];
  if (secondary) classes.push('nhsuk-button--secondary');
  if (warning) classes.push('nhsuk-button--warning');
  if (small) classes.push('nhsuk-button--small');
  return h('button', {class: classes.join(' '), type, 'data-module': 'nhsuk-button'}, label);
}

// A labelled control in an nhsuk-form-group. `control` is built by the
// caller with the id given; returns {group, control, setError}.
function formGroup(label, control, {hint, id, labelClass} = {}) {
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const group = h('div', {class: 'nhsuk-form-group'},
    h('label', {class: `nhsuk-label${labelClass ? ` ${labelClass}` : ''}`, for: id}, label),
    hint ? h('div', {class: 'nhsuk-hint', id: hintId}, hint) : null);
  if (hintId) control.setAttribute('aria-describedby', hintId);
  group.appendChild(control);
  let errorElement = null;
  const setError = (message) => {
    if (errorElement) {
      errorElement.remove();
      errorElement = null;
    }
    group.classList.toggle('nhsuk-form-group--error', Boolean(message));
    const errorClass = {INPUT: 'nhsuk-input--error', SELECT: 'nhsuk-select--error',
      TEXTAREA: 'nhsuk-textarea--error'}[control.tagName];
    if (errorClass) control.classList.toggle(errorClass, Boolean(message));
    const described = [hintId, message ? errorId : null].filter(Boolean).join(' ');
    if (described) control.setAttribute('aria-describedby', described);
    else control.removeAttribute('aria-describedby');
    if (message) {
      errorElement = h('span', {class: 'nhsuk-error-message', id: errorId},
        h('span', {class: 'nhsuk-u-visually-hidden'}, 'Error: '), message);
      group.insertBefore(errorElement, control);
    }
  };
  return {group, control, setError};
}

export function textInput(label, {name, value = '', hint, type = 'text', width, autocomplete} = {}) {
  const id = uid(name ?? 'input');
  const classes = ['nhsuk-input'];
  if (width) classes.push(`nhsuk-input--width-${width}`);
  const control = h('input', {class: classes.join(' '), id, name, type,
    autocomplete: autocomplete ?? 'off', spellcheck: type === 'text' ? 'false' : null});
  control.value = value ?? '';
  return formGroup(label, control, {hint, id});
}

// options: [[value, label], ...]
export function select(label, options, {name, value = '', hint} = {}) {
  const id = uid(name ?? 'select');
  const control = h('select', {class: 'nhsuk-select', id, name},
    options.map(([optionValue, optionLabel]) => h('option', {value: optionValue}, optionLabel)));
  // A value no option has (or none given) selects the first option.
  const wanted = options.findIndex(([optionValue]) => optionValue === (value ?? ''));
  control.selectedIndex = wanted >= 0 ? wanted : 0;
  return formGroup(label, control, {hint, id});
}

export function textarea(label, {name, value = '', hint, rows = 5, labelClass} = {}) {
  const id = uid(name ?? 'textarea');
  const control = h('textarea', {class: 'nhsuk-textarea', id, name, rows});
  control.value = value ?? '';
  return formGroup(label, control, {hint, id, labelClass});
}

// errors: [{message, field?}]: an error summary with role="alert" whose
// links move focus to the field (without touching the location hash, which
// is the page's route).
export function errorSummary(errors) {
  const items = errors.map(({message, field}) => {
    if (!field) return h('li', {}, message);
    const link = h('a', {href: `#${field.id}`}, message);
    link.addEventListener('click', (event) => {
      event.preventDefault();
      field.focus();
      field.scrollIntoView({block: 'center'});
    });
    return h('li', {}, link);
  });
  return h('div', {class: 'nhsuk-error-summary', tabindex: '-1'},
    h('div', {role: 'alert'},
      h('h2', {class: 'nhsuk-error-summary__heading'}, 'There is a problem'),
      h('div', {class: 'nhsuk-error-summary__body'},
        h('ul', {class: 'nhsuk-list nhsuk-error-summary__list'}, items))));
}

// rows: [[key, value], ...]; values may be nodes.
export function summaryList(rows) {
  return h('dl', {class: 'nhsuk-summary-list'},
    rows.filter(Boolean).map(([key, value]) => h('div', {class: 'nhsuk-summary-list__row'},
      h('dt', {class: 'nhsuk-summary-list__key'}, key),
      h('dd', {class: 'nhsuk-summary-list__value'}, value))));
}

// A table: headers [label, ...], rows [[cell, ...], ...]; the first cell of
// each row is its row header when rowHeaders is set.
export function table(caption, headers, rows, {rowHeaders = false, captionHidden = false} = {}) {
  return h('table', {class: 'nhsuk-table'},
    caption ? h('caption', {class: captionHidden ? 'nhsuk-u-visually-hidden' :
      'nhsuk-table__caption nhsuk-table__caption--s'}, caption) : null,
    h('thead', {class: 'nhsuk-table__head'},
      h('tr', {class: 'nhsuk-table__row'},
        headers.map((label) => h('th', {class: 'nhsuk-table__header', scope: 'col'}, label)))),
    h('tbody', {class: 'nhsuk-table__body'},
      rows.map((cells) => h('tr', {class: 'nhsuk-table__row'},
        cells.map((cell, i) => (rowHeaders && i === 0 ?
          h('th', {class: 'nhsuk-table__header', scope: 'row'}, cell) :
          h('td', {class: 'nhsuk-table__cell'}, cell)))))));
}

export function warningCallout(heading, ...body) {
  return h('div', {class: 'nhsuk-warning-callout'},
    h('h3', {class: 'nhsuk-warning-callout__label'}, heading),
    body);
}

// A wide table in a box that scrolls sideways on narrow screens; the box is
// focusable so that keyboard users can scroll it too.
export function scrollBox(label, content) {
  return h('div', {class: 'earshot-table-scroll', tabindex: '0', role: 'region', 'aria-label': label},
    content);
}
