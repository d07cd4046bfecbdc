// ragchat chat page. Plain ES module, no build step, on the shared client
// module (ragchat-client.js), which keeps the socket and its rules.
//
// Flow: log in (POST {api}/api/customer/{companyId}/login), resume the
// latest room or open one (POST {api}/api/customer/chatbot), list the
// customer's rooms to switch between (GET /api/customer/rooms), connect to
// the WebSocket API ({ws}?token=…&roomId=…). On every (re)connect the
// room's history is read from the API (GET /api/customer/rooms/{id}/
// messages) and drawn; then the socket's frames go on from there: an
// answer in flight resumes from seq 1 with all its text, questions asked
// on another device arrive as message frames, questions not yet answered
// are resent by their clientMessageId.

import { HttpApi, ChatSocket, ApiError } from './ragchat-client.js';
import {
  $, timeFormat, readJSON, writeJSON, fetchConfig, SETTINGS_KEY, apiBase, webSocketURL,
  sendOnEnter, setConnection, showBanner, hideBanner,
} from './page.js';

const SESSION_KEY = 'ragchat.session'; // sessionStorage: token, user, room
const HISTORY_PAGE = 50;

const FRAME_ERRORS = {
  RAG_UNAVAILABLE: '답변 서비스에 연결할 수 없습니다.',
  RAG_TIMEOUT: '답변이 너무 오래 걸려 중단되었습니다.',
  RAG_STREAM_INTERRUPTED: '답변을 받는 도중 끊겼습니다.',
  INVALID_MESSAGE: '메시지를 처리할 수 없습니다.',
  UNKNOWN_ACTION: '알 수 없는 요청입니다.',
  INTERNAL: '일시적인 오류가 발생했습니다.',
  DISCONNECTED: '연결이 끊겼습니다.',
  ANSWER_IN_PROGRESS: '이전 답변이 끝난 뒤 다시 보냅니다.',
  RATE_LIMITED: '질문이 너무 많습니다. 잠시 후 다시 보냅니다.',
  ROOM_CLOSED: '종료된 상담입니다. 새 상담을 시작해 주세요.',
};

const el = {
  who: $('who'), status: $('status'),
  reconnect: $('reconnect'), newRoom: $('new-room'), openSettings: $('open-settings'), logout: $('logout'),
  banner: $('banner'), bannerClose: $('banner-close'),
  loginView: $('login-view'), loginForm: $('login-form'), company: $('company'), user: $('user'),
  password: $('password'), loginError: $('login-error'), loginSubmit: $('login-submit'), endpointHint: $('endpoint-hint'),
  chatView: $('chat-view'), messages: $('messages'), suggestions: $('suggestions'),
  composer: $('composer'), input: $('input'), send: $('send'),
  settings: $('settings'), settingsForm: $('settings-form'), apiBase: $('api-base'), wsUrl: $('ws-url'),
  settingsReset: $('settings-reset'), settingsDefaults: $('settings-defaults'),
  template: $('message-template'), handoff: $('handoff'), rooms: $('rooms'),
};

let defaults = { apiBase: '', webSocketUrl: '', suggestions: [] };
let settings = readJSON(localStorage, SETTINGS_KEY) || {};
let session = readJSON(sessionStorage, SESSION_KEY);

// The room's socket (ChatSocket), replaced when the room changes.
let sock = null;

// Bubbles by messageId (history, answers, message frames), and the
// questions this page asked by clientMessageId: {user, bot} bubbles.
const byMessage = new Map();
const asked = new Map();

// Endpoints ----------------------------------------------------------------

async function loadConfig() {
  defaults = { ...defaults, ...(await fetchConfig()) };
  showEndpoints();
}

function showEndpoints() {
  el.endpointHint.textContent = `API ${apiBase(settings, defaults)} · WebSocket ${webSocketURL(settings, defaults)}`;
}

// HTTP API -----------------------------------------------------------------

function http() {
  return new HttpApi(apiBase(settings, defaults), () => (session ? session.token : ''));
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
    const user = await http().login(companyId, id, password);
    session = { token: user.token, userId: user.userId, userName: user.userName || user.userId, companyId: user.companyId || companyId };
    session.roomId = user.roomId || (await http().createRoom()).roomId;
    writeJSON(sessionStorage, SESSION_KEY, session);
    el.password.value = '';
    showChat();
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
    const room = await http().createRoom();
    switchRoom(room.roomId, room.status || 'BOT');
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

// switchRoom opens another of the customer's rooms.
function switchRoom(roomId, status) {
  if (!session || roomId === session.roomId) return;
  session.roomId = roomId;
  setRoomStatus(status || 'BOT');
  clearMessages();
  loadRooms();
  connect();
}

function logout(reason) {
  disconnect();
  session = null;
  writeJSON(sessionStorage, SESSION_KEY, null);
  clearMessages();
  showLogin();
  if (reason) showLoginError(reason);
  else el.loginError.hidden = true;
}

// Views --------------------------------------------------------------------

function showLogin() {
  el.chatView.hidden = true;
  el.loginView.hidden = false;
  el.logout.hidden = el.newRoom.hidden = el.reconnect.hidden = el.rooms.hidden = true;
  el.who.textContent = '고객 상담';
  setStatus('idle', '로그인 전');
  el.user.focus();
}

function showChat() {
  el.loginView.hidden = true;
  el.chatView.hidden = false;
  el.logout.hidden = el.newRoom.hidden = el.handoff.hidden = el.rooms.hidden = false;
  el.who.textContent = `${session.userName} · ${session.companyId}`;
  setRoomStatus(session.roomStatus || 'BOT');
  clearMessages();
  loadRooms();
  connect();
  el.input.focus();
}

function setStatus(state, text) {
  setConnection(state, text);
  el.status.title = text;
  el.reconnect.hidden = !session || state === 'open' || state === 'connecting' || state === 'idle';
  updateComposer();
}

function updateComposer() {
  const open = sock !== null && sock.isOpen;
  el.send.disabled = !open || el.input.value.trim() === '';
  el.input.placeholder = open ? '메시지를 입력하세요' : '연결되면 메시지를 보낼 수 있습니다';
}

// History ------------------------------------------------------------------

function clearMessages() {
  el.messages.replaceChildren();
  byMessage.clear();
  asked.clear();
  renderSuggestions();
}

function greet() {
  addBubble('bot', `안녕하세요, ${session.userName}님! 궁금한 점을 편하게 물어보세요.`, 'done', { local: true });
}

// loadHistory reads the room's latest page and draws it, with the
// questions of this page not yet stored after it. It returns the
// clientMessageIds the history holds (those need no resending).
async function loadHistory() {
  if (!session) return [];
  const roomId = session.roomId;
  let page;
  try {
    page = await http().messages(roomId, { limit: HISTORY_PAGE });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      logout('로그인이 만료되었습니다. 다시 로그인해 주세요.');
      return [];
    }
    showBanner(`대화 기록을 불러오지 못했습니다. ${describeApiError(err, 'history')}`);
    return [];
  }
  if (!session || roomId !== session.roomId) return [];
  const waiting = [...asked.entries()];
  el.messages.replaceChildren();
  byMessage.clear();
  asked.clear();
  greet();
  setRoomStatus(page.status || 'BOT');
  const stored = [];
  for (const m of page.messages) {
    drawStored(m);
    if (m.clientMessageId) stored.push(m.clientMessageId);
  }
  // Questions of this page the history does not hold (yet) stay, with
  // whatever their answers have shown.
  for (const [cmid, q] of waiting) {
    if (stored.includes(cmid)) continue;
    el.messages.append(q.user);
    if (q.bot) {
      el.messages.append(q.bot);
      if (q.bot.dataset.messageId) byMessage.set(q.bot.dataset.messageId, q.bot);
    }
    asked.set(cmid, q);
  }
  renderSuggestions();
  scrollToBottom();
  return stored;
}

// drawStored draws one history message.
function drawStored(m) {
  const role = ['user', 'bot', 'agent', 'system'].includes(m.role) ? m.role : 'system';
  let state = 'done';
  if (role === 'bot' && m.outcome === 'streaming') state = 'streaming';
  if (role === 'bot' && m.outcome && m.outcome !== 'complete' && m.outcome !== 'streaming') state = 'error';
  const li = addBubble(role, m.text || '', state, { at: m.createdAt });
  li.dataset.messageId = m.messageId;
  if (m.clientMessageId) li.dataset.clientMessageId = m.clientMessageId;
  if (state === 'error') showFrameError(li, m.outcome, '');
  if (role === 'agent') nameAgent(li, m.userName);
  byMessage.set(m.messageId, li);
}

// drawQuestion draws a question of this page and the bubble its answer
// will fill.
function drawQuestion(cmid, text, at) {
  const user = addBubble('user', text, 'done', { at });
  user.dataset.clientMessageId = cmid;
  const bot = roomStatus === 'BOT' ? addBubble('bot', '', 'pending') : null;
  asked.set(cmid, { text, at, user, bot });
}

// loadRooms fills the room switcher with the customer's latest rooms.
async function loadRooms() {
  if (!session) return;
  let page;
  try {
    page = await http().rooms({ limit: 20 });
  } catch {
    return; // the switcher stays as it was; the chat works without it
  }
  const rooms = page.rooms.some((r) => r.roomId === session.roomId) ? page.rooms : [{ roomId: session.roomId, createdAt: Date.now(), status: roomStatus }, ...page.rooms];
  el.rooms.replaceChildren(
    ...rooms.map((r) => {
      const o = document.createElement('option');
      o.value = r.roomId;
      o.dataset.status = r.status || 'BOT';
      o.textContent = `${new Intl.DateTimeFormat('ko-KR', { month: 'numeric', day: 'numeric', hour: 'numeric', minute: '2-digit' }).format(r.createdAt)} · ${r.roomId}`;
      o.selected = r.roomId === session.roomId;
      return o;
    }),
  );
}

function renderSuggestions() {
  const show = !el.messages.querySelector('.msg.user') && defaults.suggestions.length > 0 && session !== null;
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
  if (!session) return;
  if (tokenExpired(session.token)) {
    logout('로그인이 만료되었습니다. 다시 로그인해 주세요.');
    return;
  }
  let url;
  try {
    url = new URL(webSocketURL(settings, defaults));
    url.searchParams.set('token', session.token);
    url.searchParams.set('roomId', session.roomId);
  } catch {
    setStatus('closed', '주소 오류');
    showBanner(`WebSocket 주소가 올바르지 않습니다: ${webSocketURL(settings, defaults)}`);
    return;
  }
  if (sock) sock.close();
  const mine = new ChatSocket({
    url: () => url.toString(),
    onState: (state, info) => {
      if (sock !== mine) return;
      onSocketState(state, info);
    },
    onOpen: async () => (sock === mine ? loadHistory() : []),
    onAnswer: (a) => sock === mine && onAnswer(a),
    onMessage: (f) => sock === mine && onMessageFrame(f),
    onStatus: (f) => sock === mine && onStatusFrame(f),
    onRefused: (r) => sock === mine && onRefused(r),
    onTokenExpired: () => logout('로그인이 만료되었습니다. 다시 로그인해 주세요.'),
  });
  sock = mine;
  mine.connect();
}

function onSocketState(state, info) {
  switch (state) {
    case 'connecting':
      setStatus('connecting', '연결 중…');
      break;
    case 'open':
      if (el.banner.dataset.kind === 'connection') hideBanner();
      setStatus('open', '연결됨');
      break;
    case 'waiting':
      setStatus('waiting', `재연결 대기 ${Math.ceil(info.retryInMs / 1000)}초`);
      if (info.attempts >= 4) showBanner('채팅 서버에 연결할 수 없습니다. 연결 설정의 WebSocket 주소나 로그인 상태를 확인해 주세요.', 'connection');
      else showBanner('연결이 끊겼습니다. 자동으로 다시 연결합니다.', 'connection');
      break;
    default:
      setStatus('closed', '연결 끊김');
  }
}

function disconnect() {
  if (sock) sock.close();
  sock = null;
}

function reconnectNow() {
  connect();
}

function sendQuestion(text) {
  const message = text.trim();
  if (!message || !sock) return;
  const cmid = sock.send(message);
  drawQuestion(cmid, message, Date.now());
  el.suggestions.hidden = true;
}

// onAnswer draws an answer's text so far: into its bubble from the
// history, the bubble of the question this page asked, or a new one (a
// question asked on another device).
function onAnswer(a) {
  let li = byMessage.get(a.messageId);
  if (!li) {
    const q = a.clientMessageId ? asked.get(a.clientMessageId) : null;
    li = (q && q.bot) || addBubble('bot', '', 'pending');
    li.dataset.messageId = a.messageId;
    byMessage.set(a.messageId, li);
  }
  if (a.state === 'interrupted') {
    showFrameError(li, 'DISCONNECTED', '연결이 끊겨 답변이 중단되었습니다. 다시 연결되면 이어서 받습니다.');
    return;
  }
  clearFrameError(li);
  if (a.state === 'error') {
    setBubble(li, a.text, 'error');
    showFrameError(li, a.code, a.message);
  } else {
    setBubble(li, a.text, a.state === 'complete' ? 'done' : 'streaming');
  }
}

// onRefused shows why a question was refused (and, for the ones the client
// resends by itself, that it will).
function onRefused(r) {
  const q = asked.get(r.clientMessageId);
  const li = q && q.bot;
  if (!li) {
    showBanner(`${FRAME_ERRORS[r.code] || '오류가 발생했습니다.'} (${r.code})`);
    return;
  }
  if (r.retryInMs > 0) {
    showFrameError(li, r.code, `${Math.ceil(r.retryInMs / 1000)}초 뒤 다시 보냅니다.`);
    return;
  }
  setBubble(li, '', 'error');
  showFrameError(li, r.code, r.message);
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
  if (!sock || !sock.sendAction({ action: 'handoff' })) {
    showBanner('아직 연결되지 않았습니다. 연결된 뒤 다시 눌러 주세요.', 'connection');
    return;
  }
  el.handoff.disabled = true;
}

function onStatusFrame(f) {
  setRoomStatus(String(f.status), typeof f.agentName === 'string' ? f.agentName : '');
  if (typeof f.text === 'string' && f.text && !(f.messageId && byMessage.has(f.messageId))) {
    const li = addBubble('system', f.text, 'done', { at: f.createdAt || Date.now() });
    if (f.messageId) byMessage.set(f.messageId, li);
  }
  if (f.status !== 'BOT') {
    // Questions asked before the handoff may still be answered; nothing new waits for the bot.
    for (const q of asked.values()) {
      if (q.bot && q.bot.dataset.state === 'pending' && !q.bot.dataset.messageId) {
        q.bot.remove();
        q.bot = null;
      }
    }
  }
  if (f.status === 'CLOSED') showBanner('상담이 종료되었습니다. 이어서 물어보시려면 "새 상담"을 누르세요.', 'info');
}

function onMessageFrame(f) {
  if (typeof f.text !== 'string' || byMessage.has(f.messageId)) return; // already drawn from the history
  const role = f.role === 'agent' ? 'agent' : f.role === 'user' ? 'user' : 'system';
  const li = addBubble(role, f.text, 'done', { at: f.createdAt || Date.now() });
  li.dataset.messageId = f.messageId;
  if (f.clientMessageId) li.dataset.clientMessageId = f.clientMessageId;
  byMessage.set(f.messageId, li);
  if (role === 'agent') nameAgent(li, f.userName);
  el.suggestions.hidden = true;
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

// Settings -----------------------------------------------------------------

function openSettings() {
  el.apiBase.value = settings.apiBase || '';
  el.wsUrl.value = settings.webSocketUrl || '';
  el.settingsDefaults.textContent =
    `기본값 — API: ${apiBase({}, defaults)}, WebSocket: ${webSocketURL({}, defaults)}`;
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
sendOnEnter(el.input, el.composer);
el.input.addEventListener('input', () => {
  autosize();
  updateComposer();
});
el.reconnect.addEventListener('click', reconnectNow);
el.handoff.addEventListener('click', requestHandoff);
el.newRoom.addEventListener('click', onNewRoom);
el.rooms.addEventListener('change', () => {
  const o = el.rooms.selectedOptions[0];
  if (o) switchRoom(o.value, o.dataset.status);
});
el.logout.addEventListener('click', () => logout());
el.openSettings.addEventListener('click', openSettings);
el.settings.addEventListener('close', onSettingsClose);
el.settingsReset.addEventListener('click', () => {
  el.apiBase.value = '';
  el.wsUrl.value = '';
});
el.bannerClose.addEventListener('click', hideBanner);
window.addEventListener('online', () => {
  if (session && sock && !sock.isOpen) reconnectNow();
});

await loadConfig();
if (session && session.token && session.roomId) {
  showChat();
} else {
  session = null;
  showLogin();
}
