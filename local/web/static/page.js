// The page chrome the chat page (app.js) and the agent console (agent.js)
// share, over the layout both are rendered in (pages/layout.html): the
// connection status in the top bar, the banner, the JSON each keeps in Web
// Storage, the stack's config and the endpoints it and the user's settings
// give, the composer's Enter key, and the time of a message.

export const $ = (id) => document.getElementById(id);

// timeFormat shows a message's time as the bubbles do: hour and minute.
export const timeFormat = new Intl.DateTimeFormat('ko-KR', { hour: 'numeric', minute: '2-digit' });

// readJSON returns the value stored under key, or null when there is none
// or it does not parse.
export function readJSON(storage, key) {
  try {
    return JSON.parse(storage.getItem(key) || 'null');
  } catch {
    return null;
  }
}

// writeJSON stores value under key; null or undefined removes it.
export function writeJSON(storage, key, value) {
  try {
    if (value == null) storage.removeItem(key);
    else storage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: the page still works, it only forgets on reload.
  }
}

// fetchConfig returns the stack's /config.json (apiBase, webSocketUrl,
// suggestions), or {} where there is none (page opened from elsewhere).
export async function fetchConfig() {
  try {
    const res = await fetch('/config.json', { cache: 'no-store' });
    if (res.ok) return await res.json();
  } catch {
    // no config endpoint: the page's built-in defaults
  }
  return {};
}

// defaultWebSocketURL is the local stack's WebSocket API beside the page:
// port 3001 of the page's host, stage prod.
export function defaultWebSocketURL() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.hostname}:3001/prod`;
}

// SETTINGS_KEY is where (localStorage) the chat page's settings panel keeps
// the endpoints the user chose; the agent console uses them too.
export const SETTINGS_KEY = 'ragchat.settings';

// apiBase is the HTTP API's base URL, without a trailing slash: the
// user's settings over the stack's config (defaults) over the page's own
// origin.
export function apiBase(settings, defaults) {
  return (settings.apiBase || defaults.apiBase || location.origin).replace(/\/+$/, '');
}

// webSocketURL is the WebSocket API's URL: the user's settings over the
// stack's config (defaults) over defaultWebSocketURL.
export function webSocketURL(settings, defaults) {
  return settings.webSocketUrl || defaults.webSocketUrl || defaultWebSocketURL();
}

// sendOnEnter makes Enter in the composer's input submit its form, as the
// layout's composer hint says: not Shift+Enter (a new line), and never in
// the middle of an IME composition (Safari reports the Enter that ends a
// Hangul one with keyCode 229, not isComposing).
export function sendOnEnter(input, form) {
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

// setConnection shows state (idle, connecting, open, waiting, closed) and
// its text in the top bar's status.
export function setConnection(state, text) {
  $('status').dataset.state = state;
  $('status-text').textContent = text;
}

// showBanner shows text in the banner; kind (error, info, connection) lets
// a later event hide only its own kind.
export function showBanner(text, kind = 'error') {
  const banner = $('banner');
  $('banner-text').textContent = text;
  banner.dataset.kind = kind;
  banner.hidden = false;
}

export function hideBanner() {
  $('banner').hidden = true;
}
