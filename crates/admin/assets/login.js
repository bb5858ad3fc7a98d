// The login page of the locus admin dashboard: trades the admin token for
// a session cookie (POST /api/v1/session) and reloads "/", which then
// serves the dashboard. Nothing is stored in the browser: the cookie is
// HttpOnly and set by the server.
'use strict';

(function () {
  const form = document.getElementById('login-form');
  const input = document.getElementById('token');
  const error = document.getElementById('login-error');
  const submit = document.getElementById('login-submit');

  // showError(text): shows `text` under the field (text only, never HTML).
  function showError(text) {
    error.textContent = text;
    error.hidden = false;
    input.setAttribute('aria-invalid', 'true');
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (token === '') {
      showError('Enter the token.');
      input.focus();
      return;
    }
    submit.disabled = true;
    error.hidden = true;
    input.removeAttribute('aria-invalid');
    try {
      const response = await fetch('/api/v1/session', {
        method: 'POST',
        credentials: 'same-origin',
        cache: 'no-store',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token: token }),
      });
      if (response.ok) {
        input.value = '';
        window.location.replace('/');
        return;
      }
      if (response.status === 401) {
        showError('wrong token');
      } else {
        showError('Sign-in failed: HTTP ' + response.status + '.');
      }
    } catch (e) {
      showError('The server cannot be reached: ' + e.message);
    }
    submit.disabled = false;
    input.select();
    input.focus();
  });

  input.focus();
})();
