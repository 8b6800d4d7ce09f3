// Sign in: the user pastes the bearer token `earshot users add` printed.
import {ApiError} from '../api.js';
import {button, textInput} from '../components.js';
import {h} from '../dom.js';
import {session, signIn} from '../session.js';

export function renderSignIn(app) {
  document.title = 'Sign in – earshot';
  const token = textInput('Access token', {
    name: 'token',
    hint: 'The token printed once by earshot users add (or by earshot demo). It is kept only in this browser tab.',
    // A password field: the token is not shown to whoever looks at the screen.
    type: 'password',
    autocomplete: 'off',
  });
  token.control.classList.add('earshot-token');
  const submit = button('Sign in', {type: 'submit'});
  const form = h('form', {novalidate: true, class: 'earshot-signin'}, token.group, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = token.control.value.trim();
    token.setError(null);
    if (!value) {
      token.setError('Enter your access token');
      app.showErrors([{message: 'Enter your access token', field: token.control}]);
      return;
    }
    submit.disabled = true;
    try {
      await signIn(value);
      app.announce('Signed in');
      const returnTo = session.returnTo;
      session.returnTo = null;
      app.navigate(returnTo && returnTo.startsWith('#/') && !returnTo.startsWith('#/signin') ?
        returnTo : '#/inbox');
    } catch (error) {
      const refused = error instanceof ApiError && error.status === 401;
      const message = refused ? 'That token was not accepted' : error.message;
      if (refused) token.setError(message);
      app.showErrors([{message, field: refused ? token.control : null}]);
    } finally {
      submit.disabled = false;
    }
  });
  const ended = session.ended;
  session.ended = false;
  app.page.replaceChildren(
    h('div', {class: 'nhsuk-grid-row'},
      h('div', {class: 'nhsuk-grid-column-two-thirds'},
        h('h1', {tabindex: '-1'}, 'Sign in'),
        h('p', {}, 'Answer what people say in public about your organisation\u2019s care, where they said it.'),
        form)));
  if (ended) {
    app.showErrors([{message: 'Your token is no longer accepted (it may have been revoked). ' +
      'Sign in again.'}]);
  }
}
