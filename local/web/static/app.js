// ragchat chat page. Plain ES module, no build step.
//
// Flow: log in (POST {api}/api/customer/{companyId}/login), open a room
// (POST {api}/api/customer/chatbot with the bearer token), connect to the
// WebSocket API ({ws}?token=…&roomId=…), send sendMessage frames and render
// the frames that come back: deltas in seq order per messageId, the complete
// frame's answer as the final text, error frames with their code. Frames
// without a type (API Gateway's own) are ignored.

const SESSION_KEY = 'ragchat.session'; // sessionStorage: token, user, room
const TRANSCRIPT_KEY = 'ragchat.transcript'; // sessionStorage: {roomId, messages}
const SETTINGS_KEY = 'ragchat.settings'; // localStorage: the user's endpoints
const MAX_TRANSCRIPT = 200;
const RECONNECT_MAX_MS = 30000;

const FRAME_ERRORS = {
  RAG_UNAVAILABLE: '답변 서비스에 연결할 수 없습니다.',
  RAG_TIMEOUT: '답변이 너무 오래 걸려 중단되었습니다.',
  RAG_STREAM_INTERRUPTED: '답변을 받는 도중 끊겼습니다.',
  INVALID_MESSAGE: '메시지를 처리할 수 없습니다.',
  UNKNOWN_ACTION: '알 수 없는 요청입니다.',
  INTERNAL: '일시적인 오류가 발생했습니다.',
  DISCONNECTED: '연결이 끊겼습니다.',
};

const $ = (id) => document.getElementById(id);
const el = {
  who: $('who'), status: $('status'), statusText: $('status-text'),
  reconnect: $('reconnect'), newRoom: $('new-room'), openSettings: $('open-settings'), logout: $('logout'),
  banner: $('banner'), bannerText: $('banner-text'), bannerClose: $('banner-close'),
  loginView: $('login-view'), loginForm: $('login-form'), company: $('company'), user: $('user'),
  password: $('password'), loginError: $('login-error'), loginSubmit: $('login-submit'), endpointHint: $('endpoint-hint'),
  chatView: $('chat-view'), messages: $('messages'), suggestions: $('suggestions'),
  composer: $('composer'), input: $('input'), send: $('send'),
  settings: $('settings'), settingsForm: $('settings-form'), apiBase: $('api-base'), wsUrl: $('ws-url'),
  settingsReset: $('settings-reset'), settingsDefaults: $('settings-defaults'),
  template: $('message-template'), handoff: $('handoff'),
};

const timeFormat = new Intl.DateTimeFormat('ko-KR', { hour: 'numeric', minute: '2-digit' });

let defaults = { apiBase: '', webSocketUrl: '', suggestions: [] };
let settings = readJSON(localStorage, SETTINGS_KEY) || {};
let session = readJSON(sessionStorage, SESSION_KEY);
let transcript = [];

// WebSocket state. gen numbers sockets so that events of a replaced socket
// are ignored.
let ws = null;
let gen = 0;
let wantOpen = false;
let attempts = 0;
let reconnectTimer = 0;
let countdownTimer = 0;

// Answers by messageId: {li, parts: Map(seq -> delta), next, text, state}.
const answers = new Map();
// Bot bubbles waiting for the first frame of their answer, oldest first.
const pending = [];

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function readJSON(storage, key) {
  try {
    return JSON.parse(storage.getItem(key) || 'null');
  } catch {
    return null;
  }
}

function writeJSON(storage, key, value) {
  try {
    if (value == null) storage.removeItem(key);
    else storage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: the page still works, it only forgets on reload.
  }
}

// Endpoints ----------------------------------------------------------------

function apiBase() {
  return (settings.apiBase || defaults.apiBase || location.origin).replace(/\/+$/, '');
}

function defaultWebSocketURL() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.hostname}:3001/prod`;
}

function webSocketURL() {
  return settings.webSocketUrl || defaults.webSocketUrl || defaultWebSocketURL();
}

async function loadConfig() {
  try {
    const res = await fetch('/config.json', { cache: 'no-store' });
    if (res.ok) defaults = { ...defaults, ...(await res.json()) };
  } catch {
    // No config endpoint (page opened from elsewhere): built-in defaults.
  }
  showEndpoints();
}

function showEndpoints() {
  el.endpointHint.textContent = `API ${apiBase()} · WebSocket ${webSocketURL()}`;
}

// HTTP API -----------------------------------------------------------------

async function api(path, body, token) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(apiBase() + path, {
      method: 'POST',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', '서버에 연결할 수 없습니다. 연결 설정의 API 주소를 확인해 주세요.');
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    throw new ApiError(res.status, (data && data.code) || `HTTP_${res.status}`, (data && data.message) || res.statusText);
  }
  return data;
}

function describeApiError(err, context) {
  if (!(err instanceof ApiError)) return '알 수 없는 오류가 발생했습니다.';
  if (err.status === 0) return err.message;
  let friendly;
  if (err.status === 401) friendly = context === 'login' ? '회사 ID, 아이디 또는 비밀번호가 올바르지 않습니다.' : '로그인이 만료되었습니다. 다시 로그인해 주세요.';
  else if (err.status === 429) friendly = '시도가 너무 많습니다. 잠시 후 다시 시도해 주세요.';
  else if (err.status === 400) friendly = '입력한 내용을 확인해 주세요.';
  else if (err.status === 403 || err.status === 404) friendly = '요청한 대상을 찾을 수 없습니다.';
  else if (err.status >= 500) friendly = '서버에 일시적인 문제가 있습니다. 잠시 후 다시 시도해 주세요.';
  else friendly = '요청을 처리하지 못했습니다.';
  return `${friendly} (${err.code}, HTTP ${err.status})`;
}

// Session -----------------------------------------------------------------

function tokenExpired(token) {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return typeof payload.exp === 'number' && payload.exp * 1000 <= Date.now();
  } catch {
    return false; // not a JWT we can read: let the server decide
  }
}

async function onLogin(event) {
  event.preventDefault();
  const companyId = el.company.value.trim();
  const id = el.user.value.trim();
  const password = el.password.value;
  const missing = [el.company, el.user, el.password].find((input) => !input.value.trim());
  if (missing) {
    showLoginError('회사 ID, 아이디, 비밀번호를 모두 입력해 주세요.');
    missing.focus();
    return;
  }
  el.loginError.hidden = true;
  el.loginSubmit.disabled = true;
  el.loginSubmit.textContent = '로그인 중…';
  try {
    const user = await api(`/api/customer/${encodeURIComponent(companyId)}/login`, { id, password });
    const room = await api('/api/customer/chatbot', undefined, user.token);
    session = {
      token: user.token,
      userId: user.userId,
      userName: user.userName || user.userId,
      companyId: user.companyId || companyId,
      roomId: room.roomId,
    };
    writeJSON(sessionStorage, SESSION_KEY, session);
    el.password.value = '';
    startTranscript();
    showChat();
    connect();
  } catch (err) {
    showLoginError(describeApiError(err, 'login'));
  } finally {
    el.loginSubmit.disabled = false;
    el.loginSubmit.textContent = '로그인';
  }
}

function showLoginError(text) {
  el.loginError.textContent = text;
  el.loginError.hidden = false;
}

async function onNewRoom() {
  if (!session) return;
  el.newRoom.disabled = true;
  try {
    const room = await api('/api/customer/chatbot', undefined, session.token);
    session.roomId = room.roomId;
    setRoomStatus(room.status || 'BOT');
    startTranscript();
    renderTranscript();
    attempts = 0;
    connect();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      logout('로그인이 만료되었습니다. 다시 로그인해 주세요.');
      return;
    }
    showBanner(describeApiError(err, 'room'));
  } finally {
    el.newRoom.disabled = false;
  }
}

function logout(reason) {
  disconnect();
  session = null;
  writeJSON(sessionStorage, SESSION_KEY, null);
  writeJSON(sessionStorage, TRANSCRIPT_KEY, null);
  transcript = [];
  showLogin();
  if (reason) showLoginError(reason);
  else el.loginError.hidden = true;
}

// Views --------------------------------------------------------------------

function showLogin() {
  el.chatView.hidden = true;
  el.loginView.hidden = false;
  el.logout.hidden = el.newRoom.hidden = el.reconnect.hidden = true;
  el.who.textContent = '고객 상담';
  setStatus('idle', '로그인 전');
  el.user.focus();
}

function showChat() {
  el.loginView.hidden = true;
  el.chatView.hidden = false;
  el.logout.hidden = el.newRoom.hidden = el.handoff.hidden = false;
  el.who.textContent = `${session.userName} · ${session.companyId}`;
  setRoomStatus(session.roomStatus || 'BOT');
  renderTranscript();
  el.input.focus();
}

function setStatus(state, text) {
  el.status.dataset.state = state;
  el.statusText.textContent = text;
  el.status.title = text;
  el.reconnect.hidden = !session || state === 'open' || state === 'connecting' || state === 'idle';
  updateComposer();
}

function showBanner(text, kind = 'error') {
  el.bannerText.textContent = text;
  el.banner.dataset.kind = kind;
  el.banner.hidden = false;
}

function hideBanner() {
  el.banner.hidden = true;
}

function updateComposer() {
  const open = ws !== null && ws.readyState === WebSocket.OPEN;
  el.send.disabled = !open || el.input.value.trim() === '';
  el.input.placeholder = open ? '메시지를 입력하세요' : '연결되면 메시지를 보낼 수 있습니다';
}

// Transcript --------------------------------------------------------------

function startTranscript() {
  transcript = [];
  answers.clear();
  pending.length = 0;
  saveTranscript();
}

function saveTranscript() {
  if (!session) return;
  writeJSON(sessionStorage, TRANSCRIPT_KEY, { roomId: session.roomId, messages: transcript.slice(-MAX_TRANSCRIPT) });
}

function renderTranscript() {
  el.messages.replaceChildren();
  answers.clear();
  pending.length = 0;
  const saved = readJSON(sessionStorage, TRANSCRIPT_KEY);
  transcript = saved && session && saved.roomId === session.roomId ? saved.messages : [];
  addBubble('bot', `안녕하세요, ${session.userName}님! 궁금한 점을 편하게 물어보세요.`, 'done', { local: true });
  for (const m of transcript) {
    const li = addBubble(m.role, m.text, m.state === 'error' ? 'error' : 'done', { at: m.at });
    if (m.error) showFrameError(li, m.error.code, m.error.message);
    if (m.role === 'agent') nameAgent(li, m.name);
  }
  renderSuggestions();
}

function renderSuggestions() {
  const show = transcript.every((m) => m.role !== 'user') && defaults.suggestions.length > 0;
  el.suggestions.hidden = !show;
  if (!show) return;
  el.suggestions.replaceChildren(
    ...defaults.suggestions.map((text) => {
      const chip = document.createElement('button');
      chip.type = 'button';
      chip.className = 'chip';
      chip.textContent = text;
      chip.addEventListener('click', () => sendQuestion(text));
      return chip;
    }),
  );
}

function nearBottom() {
  const m = el.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
}

function scrollToBottom() {
  el.messages.scrollTop = el.messages.scrollHeight;
}

// addBubble appends a message and returns its list item.
function addBubble(role, text, state, { at = Date.now(), local = false } = {}) {
  const stick = nearBottom();
  const li = el.template.content.firstElementChild.cloneNode(true);
  li.classList.add(role);
  li.dataset.state = state;
  if (local) li.dataset.local = 'true';
  li.querySelector('.who').textContent = role === 'user' ? '나: ' : '상담봇: ';
  li.querySelector('.avatar').textContent = role === 'bot' ? 'AI' : '';
  li.querySelector('.text').textContent = text;
  const time = li.querySelector('time');
  time.dateTime = new Date(at).toISOString();
  time.textContent = timeFormat.format(at);
  li.setAttribute('aria-busy', state === 'pending' || state === 'streaming' ? 'true' : 'false');
  el.messages.append(li);
  if (stick || role === 'user') scrollToBottom();
  return li;
}

function setBubble(li, text, state) {
  const stick = nearBottom();
  li.querySelector('.text').textContent = text;
  li.dataset.state = state;
  li.setAttribute('aria-busy', state === 'pending' || state === 'streaming' ? 'true' : 'false');
  if (stick) scrollToBottom();
}

function showFrameError(li, code, message) {
  const box = li.querySelector('.error-box');
  const title = document.createElement('strong');
  title.textContent = FRAME_ERRORS[code] || '답변을 받지 못했습니다.';
  const codeEl = document.createElement('code');
  codeEl.textContent = code;
  box.replaceChildren(title, codeEl, document.createTextNode(message ? ` ${message}` : ''));
  box.hidden = false;
}

function clearFrameError(li) {
  li.querySelector('.error-box').hidden = true;
}

// WebSocket ----------------------------------------------------------------

function connect() {
  clearTimeout(reconnectTimer);
  clearInterval(countdownTimer);
  if (!session) return;
  if (tokenExpired(session.token)) {
    logout('로그인이 만료되었습니다. 다시 로그인해 주세요.');
    return;
  }
  closeSocket();
  let url;
  try {
    url = new URL(webSocketURL());
    url.searchParams.set('token', session.token);
    url.searchParams.set('roomId', session.roomId);
  } catch {
    setStatus('closed', '주소 오류');
    showBanner(`WebSocket 주소가 올바르지 않습니다: ${webSocketURL()}`);
    return;
  }
  const mine = ++gen;
  let opened = false;
  wantOpen = true;
  setStatus('connecting', '연결 중…');
  const sock = new WebSocket(url);
  ws = sock;
  sock.addEventListener('open', () => {
    if (mine !== gen) return;
    opened = true;
    attempts = 0;
    if (el.banner.dataset.kind === 'connection') hideBanner();
    setStatus('open', '연결됨');
  });
  sock.addEventListener('message', (event) => {
    if (mine === gen) onFrame(event.data);
  });
  sock.addEventListener('close', () => {
    if (mine !== gen) return;
    ws = null;
    interruptAnswers();
    if (!wantOpen) {
      setStatus('closed', '연결 끊김');
      return;
    }
    scheduleReconnect(opened);
  });
}

function closeSocket() {
  if (ws) {
    gen++; // ignore the old socket's events from now on
    ws.close(1000, 'client');
    ws = null;
  }
}

function disconnect() {
  wantOpen = false;
  clearTimeout(reconnectTimer);
  clearInterval(countdownTimer);
  closeSocket();
  interruptAnswers();
}

function scheduleReconnect(wasOpen) {
  attempts++;
  const base = Math.min(RECONNECT_MAX_MS, 1000 * 2 ** (attempts - 1));
  const delay = Math.round(base * (0.8 + Math.random() * 0.4));
  const due = Date.now() + delay;
  const tick = () => {
    const secs = Math.max(0, Math.ceil((due - Date.now()) / 1000));
    setStatus('waiting', `재연결 대기 ${secs}초`);
  };
  tick();
  countdownTimer = setInterval(tick, 1000);
  reconnectTimer = setTimeout(connect, delay);
  if (!wasOpen && attempts >= 4) {
    showBanner('채팅 서버에 연결할 수 없습니다. 연결 설정의 WebSocket 주소나 로그인 상태를 확인해 주세요.', 'connection');
  } else if (wasOpen) {
    showBanner('연결이 끊겼습니다. 자동으로 다시 연결합니다.', 'connection');
  }
}

function reconnectNow() {
  attempts = 0;
  connect();
}

// interruptAnswers marks answers still in progress as cut off; frames that
// arrive later for them (on a new connection) resume them.
function interruptAnswers() {
  for (const li of pending) {
    showFrameError(li, 'DISCONNECTED', '연결이 끊겨 답변을 받지 못했습니다.');
    setBubble(li, '', 'error');
  }
  pending.length = 0;
  for (const a of answers.values()) {
    if (a.state === 'streaming') {
      a.state = 'error';
      showFrameError(a.li, 'DISCONNECTED', '연결이 끊겨 답변이 중단되었습니다.');
      setBubble(a.li, a.text, 'error');
    }
  }
}

function sendQuestion(text) {
  const message = text.trim();
  if (!message) return;
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    showBanner('아직 연결되지 않았습니다. 연결된 뒤 다시 보내 주세요.', 'connection');
    return;
  }
  ws.send(JSON.stringify({ action: 'sendMessage', message, category1: '', category2: '' }));
  const at = Date.now();
  addBubble('user', message, 'done', { at });
  transcript.push({ role: 'user', text: message, at });
  saveTranscript();
  // With a person (or waiting for one) the bot does not answer.
  if (roomStatus === 'BOT') pending.push(addBubble('bot', '', 'pending'));
  el.suggestions.hidden = true;
}

// onFrame handles one server frame.
function onFrame(data) {
  let frame;
  try {
    frame = JSON.parse(data);
  } catch {
    return;
  }
  if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') return; // API Gateway's own frames
  if (frame.type === 'status') return onStatusFrame(frame);
  if (frame.type === 'message') return onMessageFrame(frame);
  if (frame.type !== 'delta' && frame.type !== 'complete' && frame.type !== 'error') return;
  if (frame.type === 'error' && !frame.messageId) {
    // An error about the request as a whole (INVALID_MESSAGE, UNKNOWN_ACTION).
    const li = pending.shift();
    if (li) {
      showFrameError(li, frame.code, frame.message);
      setBubble(li, '', 'error');
      record(li, '', 'error', { code: frame.code, message: frame.message });
    } else {
      showBanner(`${FRAME_ERRORS[frame.code] || '오류가 발생했습니다.'} (${frame.code})`);
    }
    return;
  }
  const a = answerFor(String(frame.messageId));
  if (a.state === 'done') return;
  if (a.state === 'error' && frame.type === 'delta') clearFrameError(a.li);
  if (typeof frame.seq === 'number') {
    if (frame.seq >= a.next && !a.parts.has(frame.seq)) a.parts.set(frame.seq, typeof frame.delta === 'string' ? frame.delta : '');
  } else if (typeof frame.delta === 'string') {
    a.parts.set(a.next + a.parts.size, frame.delta);
  }
  while (a.parts.has(a.next)) {
    a.text += a.parts.get(a.next);
    a.parts.delete(a.next);
    a.next++;
  }
  if (frame.type === 'delta') {
    a.state = 'streaming';
    setBubble(a.li, a.text, 'streaming');
  } else if (frame.type === 'complete') {
    if (typeof frame.answer === 'string') a.text = frame.answer; // repairs lost frames
    a.state = 'done';
    clearFrameError(a.li);
    setBubble(a.li, a.text, 'done');
    record(a.li, a.text, 'done');
  } else {
    a.state = 'error';
    showFrameError(a.li, frame.code, frame.message);
    setBubble(a.li, a.text, 'error');
    record(a.li, a.text, 'error', { code: frame.code, message: frame.message });
  }
}

// Handoff ------------------------------------------------------------------
//
// "상담원 연결" sends {"action":"handoff"}; the room's status frames (to
// every socket of the room) carry the new status and the system message
// stored for it; message frames bring the agent's messages (and this
// customer's from another device) while a person has the room.

const ROOM_STATUS_TEXT = { BOT: '', WAITING: '상담원 연결 대기 중', AGENT: '상담원과 대화 중', CLOSED: '상담 종료' };
let roomStatus = 'BOT';

function setRoomStatus(status, agentName) {
  roomStatus = status;
  if (session) {
    session.roomStatus = status;
    writeJSON(sessionStorage, SESSION_KEY, session);
  }
  el.handoff.disabled = status !== 'BOT';
  el.handoff.textContent = status === 'BOT' ? '상담원 연결' : status === 'AGENT' && agentName ? `상담원: ${agentName}` : ROOM_STATUS_TEXT[status];
}

function requestHandoff() {
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    showBanner('아직 연결되지 않았습니다. 연결된 뒤 다시 눌러 주세요.', 'connection');
    return;
  }
  ws.send(JSON.stringify({ action: 'handoff' }));
  el.handoff.disabled = true;
}

function onStatusFrame(f) {
  setRoomStatus(String(f.status), typeof f.agentName === 'string' ? f.agentName : '');
  if (typeof f.text === 'string' && f.text) {
    addBubble('system', f.text, 'done', { at: f.createdAt || Date.now() });
    transcript.push({ role: 'system', text: f.text, at: f.createdAt || Date.now() });
    saveTranscript();
  }
  if (f.status !== 'BOT') {
    // Questions asked before the handoff may still be answered; nothing new waits for the bot.
    for (const li of pending.splice(0)) li.remove();
  }
  if (f.status === 'CLOSED') showBanner('상담이 종료되었습니다. 이어서 물어보시려면 "새 상담"을 누르세요.', 'info');
}

function onMessageFrame(f) {
  if (typeof f.text !== 'string') return;
  const role = f.role === 'agent' ? 'agent' : f.role === 'user' ? 'user' : 'system';
  const li = addBubble(role, f.text, 'done', { at: f.createdAt || Date.now() });
  if (role === 'agent') nameAgent(li, f.userName);
  transcript.push({ role, text: f.text, at: f.createdAt || Date.now(), name: f.userName });
  saveTranscript();
}

// nameAgent shows an agent's message with the agent's name.
function nameAgent(li, name) {
  const who = name || '상담원';
  li.querySelector('.who').textContent = `${who}: `;
  li.querySelector('.avatar').textContent = '상담';
  const sender = document.createElement('span');
  sender.className = 'sender';
  sender.textContent = who;
  li.querySelector('.bubble').prepend(sender);
}

// answerFor returns the answer of messageId, binding it to the oldest bot
// bubble still waiting or, for a question asked elsewhere, a new bubble.
function answerFor(messageId) {
  let a = answers.get(messageId);
  if (!a) {
    const li = pending.shift() || addBubble('bot', '', 'pending');
    li.dataset.messageId = messageId;
    a = { li, parts: new Map(), next: 1, text: '', state: 'pending' };
    answers.set(messageId, a);
  }
  return a;
}

function record(li, text, state, error) {
  const at = Date.parse(li.querySelector('time').dateTime) || Date.now();
  transcript.push({ role: 'bot', text, state, error, at });
  saveTranscript();
}

// Settings -----------------------------------------------------------------

function openSettings() {
  el.apiBase.value = settings.apiBase || '';
  el.wsUrl.value = settings.webSocketUrl || '';
  el.settingsDefaults.textContent =
    `기본값 — API: ${defaults.apiBase || location.origin}, WebSocket: ${defaults.webSocketUrl || defaultWebSocketURL()}`;
  el.settings.showModal();
}

function onSettingsClose() {
  if (el.settings.returnValue !== 'save') return;
  const next = { apiBase: el.apiBase.value.trim(), webSocketUrl: el.wsUrl.value.trim() };
  for (const [key, value] of Object.entries(next)) {
    if (value && !/^(https?|wss?):\/\//.test(value)) {
      showBanner(`주소 형식이 올바르지 않습니다: ${value}`);
      return;
    }
    if (!value) delete next[key];
  }
  settings = next;
  writeJSON(localStorage, SETTINGS_KEY, settings);
  showEndpoints();
  showBanner('연결 설정을 저장했습니다.', 'info');
  if (session) reconnectNow();
}

// Wiring -------------------------------------------------------------------

function autosize() {
  el.input.style.height = 'auto';
  el.input.style.height = `${Math.min(el.input.scrollHeight, 180)}px`;
}

el.loginForm.addEventListener('submit', onLogin);
el.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  if (el.send.disabled) return;
  sendQuestion(el.input.value);
  el.input.value = '';
  autosize();
  updateComposer();
  el.input.focus();
});
el.input.addEventListener('keydown', (event) => {
  // Never send in the middle of a Hangul IME composition.
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    el.composer.requestSubmit();
  }
});
el.input.addEventListener('input', () => {
  autosize();
  updateComposer();
});
el.reconnect.addEventListener('click', reconnectNow);
el.handoff.addEventListener('click', requestHandoff);
el.newRoom.addEventListener('click', onNewRoom);
el.logout.addEventListener('click', () => logout());
el.openSettings.addEventListener('click', openSettings);
el.settings.addEventListener('close', onSettingsClose);
el.settingsReset.addEventListener('click', () => {
  el.apiBase.value = '';
  el.wsUrl.value = '';
});
el.bannerClose.addEventListener('click', hideBanner);
window.addEventListener('online', () => {
  if (session && !ws) reconnectNow();
});

await loadConfig();
if (session && session.token && session.roomId) {
  showChat();
  connect();
} else {
  session = null;
  showLogin();
}
