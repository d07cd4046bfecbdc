// ragchat agent console. Plain ES module, no build step, on the shared
// client module (ragchat-client.js).
//
// Flow: log in as an agent (POST {api}/api/agent/{companyId}/login), list
// the company's rooms by status (GET {api}/api/agent/rooms?status=…,
// refreshed every few seconds and on every status frame), open a room: its
// history (GET …/rooms/{roomId}/messages) then its live frames on a socket
// of its own (the customer's questions, the bot's streamed answers, status
// changes, messages); claim, release and close (POST …/claim|release|close);
// send messages while holding the room.

import { HttpApi, ChatSocket } from './ragchat-client.js';
import {
  $, timeFormat, readJSON, writeJSON, fetchConfig, SETTINGS_KEY, apiBase, webSocketURL, sendOnEnter, setConnection, showBanner, hideBanner,
} from './page.js';

const SESSION_KEY = 'ragchat.agent'; // sessionStorage: token, user
const QUEUE_REFRESH_MS = 5000;
const HISTORY_LIMIT = 100;

const STATUS_TEXT = { WAITING: '상담원 대기', AGENT: '상담 중', BOT: '챗봇 응대', CLOSED: '종료' };
const ERROR_TEXT = {
  ALREADY_ASSIGNED: '다른 상담원이 이미 맡은 상담입니다.',
  ROOM_CLOSED: '종료된 상담입니다.',
  NOT_ASSIGNED: '맡은 상담에서만 할 수 있습니다. 먼저 "맡기"를 누르세요.',
  ROOM_NOT_FOUND: '상담을 찾을 수 없습니다.',
  INVALID_CREDENTIALS: '아이디 또는 비밀번호가 올바르지 않습니다.',
  LOGIN_THROTTLED: '로그인 실패가 많아 잠시 후 다시 시도해 주세요.',
  UNAUTHORIZED: '로그인이 만료되었습니다. 다시 로그인해 주세요.',
  FORBIDDEN: '상담원 계정으로 로그인해 주세요.',
  NETWORK: '서버에 연결할 수 없습니다.',
};

const el = {
  who: $('who'), logout: $('logout'), bannerClose: $('banner-close'),
  loginView: $('login-view'), loginForm: $('login-form'), company: $('company'), user: $('user'),
  password: $('password'), loginError: $('login-error'), loginSubmit: $('login-submit'),
  consoleView: $('console-view'), refresh: $('refresh'), rooms: $('rooms'), roomsEmpty: $('rooms-empty'), more: $('more'),
  roomHead: $('room-head'), roomName: $('room-name'), roomStatus: $('room-status'),
  claim: $('claim'), release: $('release'), close: $('close'),
  placeholder: $('room-placeholder'), messages: $('messages'),
  composer: $('composer'), input: $('input'), send: $('send'), template: $('message-template'),
};

let defaults = { apiBase: '', webSocketUrl: '' };
const settings = readJSON(localStorage, SETTINGS_KEY) || {};
let session = readJSON(sessionStorage, SESSION_KEY);
const api = new HttpApi('', () => (session ? session.token : ''));

let tab = 'WAITING';
let cursor = null; // the queue's next page
let queueTimer = 0;
let room = null; // the open room: {roomId, roomName, status, assignedAgent, agentName}
let socket = null;
let rendered = new Map(); // messageId -> li of the open room

function errorText(err) {
  return ERROR_TEXT[err && err.code] || (err && err.message) || '일시적인 오류가 발생했습니다.';
}

// ---------------------------------------------------------------------------
// Login

async function login(ev) {
  ev.preventDefault();
  el.loginError.hidden = true;
  const company = el.company.value.trim();
  const id = el.user.value.trim();
  if (!company || !id || !el.password.value) {
    el.loginError.textContent = '회사 ID, 아이디, 비밀번호를 모두 입력하세요.';
    el.loginError.hidden = false;
    return;
  }
  el.loginSubmit.disabled = true;
  try {
    const r = await api.login(company, id, el.password.value, { agent: true });
    session = { token: r.token, userId: r.userId, userName: r.userName, companyId: r.companyId };
    writeJSON(sessionStorage, SESSION_KEY, session);
    el.password.value = '';
    showConsole();
  } catch (err) {
    el.loginError.textContent = errorText(err);
    el.loginError.hidden = false;
  } finally {
    el.loginSubmit.disabled = false;
  }
}

function logout() {
  closeRoom();
  clearInterval(queueTimer);
  session = null;
  writeJSON(sessionStorage, SESSION_KEY, null);
  el.consoleView.hidden = true;
  el.logout.hidden = true;
  el.loginView.hidden = false;
  el.who.textContent = '상담원 콘솔';
  setConnection('idle', '로그인 전');
}

function expired(err) {
  if (err && err.status === 401) {
    logout();
    el.loginError.textContent = errorText(err);
    el.loginError.hidden = false;
    return true;
  }
  return false;
}

function showConsole() {
  el.loginView.hidden = true;
  el.consoleView.hidden = false;
  el.logout.hidden = false;
  el.who.textContent = `${session.userName} · ${session.companyId}`;
  setConnection('idle', '상담 선택 전');
  refreshQueue();
  clearInterval(queueTimer);
  queueTimer = setInterval(refreshQueue, QUEUE_REFRESH_MS);
}

// ---------------------------------------------------------------------------
// The queue

function selectTab(status) {
  tab = status;
  for (const b of document.querySelectorAll('.tab')) b.setAttribute('aria-selected', String(b.dataset.status === status));
  refreshQueue();
}

async function refreshQueue({ more = false } = {}) {
  if (!session) return;
  const status = tab;
  try {
    const page = await api.rooms({ agent: true, status, limit: 50, cursor: more ? cursor : undefined });
    if (status !== tab) return; // the tab changed meanwhile
    cursor = page.nextCursor;
    renderRooms(page.rooms, more);
    if (status === 'WAITING') $('count-WAITING').textContent = page.rooms.length ? ` ${page.rooms.length}${cursor ? '+' : ''}` : '';
  } catch (err) {
    if (!expired(err)) showBanner(`상담 목록: ${errorText(err)}`);
  }
}

function ago(ms) {
  const min = Math.max(0, Math.round((Date.now() - ms) / 60000));
  return min < 1 ? '방금' : min < 60 ? `${min}분 전` : `${Math.round(min / 60)}시간 전`;
}

function renderRooms(rooms, append) {
  if (!append) el.rooms.replaceChildren();
  for (const r of rooms) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'room-item';
    b.dataset.roomId = r.roomId;
    b.dataset.status = r.status;
    if (room && room.roomId === r.roomId) b.setAttribute('aria-current', 'true');
    const name = document.createElement('strong');
    name.textContent = r.roomName || r.roomId;
    const sub = document.createElement('span');
    sub.className = 'room-sub';
    const holder = r.assignedAgent ? ` · ${r.assignedAgent === session.userId ? '내 상담' : r.assignedAgent}` : '';
    sub.textContent = `${r.roomId} · ${ago(r.lastActivityAt)}${holder}`;
    b.append(name, sub);
    b.addEventListener('click', () => openRoom(r));
    li.append(b);
    el.rooms.append(li);
  }
  el.roomsEmpty.hidden = el.rooms.children.length > 0;
  el.more.hidden = !cursor;
}

// ---------------------------------------------------------------------------
// The open room

function holdsRoom() {
  return room && room.status === 'AGENT' && room.assignedAgent === session.userId;
}

function renderRoomHead() {
  el.roomHead.hidden = !room;
  el.placeholder.hidden = !!room;
  el.messages.hidden = !room;
  el.composer.hidden = !room;
  if (!room) return;
  el.roomName.textContent = `${room.roomName || room.roomId}`;
  let status = STATUS_TEXT[room.status] || room.status;
  if (room.status === 'AGENT') status += holdsRoom() ? ' · 내가 맡음' : ` · ${room.agentName || room.assignedAgent}`;
  el.roomStatus.textContent = status;
  el.roomStatus.dataset.status = room.status;
  el.claim.hidden = !(room.status === 'WAITING' || room.status === 'BOT');
  el.release.hidden = !holdsRoom();
  el.close.hidden = !holdsRoom();
  el.input.disabled = !holdsRoom();
  el.send.disabled = !holdsRoom();
  el.input.placeholder = holdsRoom() ? '고객에게 보낼 메시지' : '상담을 맡으면 메시지를 보낼 수 있습니다';
}

function closeRoom() {
  if (socket) socket.close();
  socket = null;
  room = null;
  rendered = new Map();
  el.messages.replaceChildren();
  renderRoomHead();
}

async function openRoom(r) {
  closeRoom();
  room = { roomId: r.roomId, roomName: r.roomName, status: r.status, assignedAgent: r.assignedAgent, agentName: null };
  renderRoomHead();
  for (const b of el.rooms.querySelectorAll('.room-item')) b.toggleAttribute('aria-current', b.dataset.roomId === r.roomId);
  const mine = room;
  socket = new ChatSocket({
    url: () => `${webSocketURL(settings, defaults)}?token=${encodeURIComponent(session.token)}&roomId=${encodeURIComponent(mine.roomId)}`,
    onState: (state, info) => {
      if (room !== mine) return;
      const text = { connecting: '연결 중…', open: '실시간 연결됨', closed: '연결 끊김' }[state]
        || `재연결 대기 (${Math.ceil((info.retryInMs || 0) / 1000)}초)`;
      setConnection(state, text);
    },
    onOpen: () => (room === mine ? loadHistory(mine) : []),
    onAnswer: (a) => room === mine && renderAnswer(a),
    onMessage: (f) => room === mine && renderMessage({ ...f }),
    onStatus: (f) => room === mine && applyStatus(f),
    onRefused: (r) => room === mine && showBanner(ERROR_TEXT[r.code] || r.message || r.code),
    onTokenExpired: () => expired({ status: 401, code: 'UNAUTHORIZED' }),
  });
  socket.connect();
}

// loadHistory reads the room's history and shows what is not shown yet
// (the first page on open, again after a reconnect).
async function loadHistory(mine) {
  try {
    const page = await api.messages(mine.roomId, { agent: true, limit: HISTORY_LIMIT });
    if (room !== mine) return [];
    room.status = page.status;
    renderRoomHead();
    // What this console sent shows under a local id until the history has it.
    for (const [id, li] of rendered) {
      if (id.startsWith('local-')) {
        li.remove();
        rendered.delete(id);
      }
    }
    for (const m of page.messages) renderMessage(m);
  } catch (err) {
    if (!expired(err)) showBanner(`대화 내용: ${errorText(err)}`);
  }
  return [];
}

function applyStatus(f) {
  room.status = f.status;
  room.assignedAgent = f.assignedAgent || null;
  room.agentName = f.agentName || null;
  renderRoomHead();
  if (f.messageId) renderMessage({ messageId: f.messageId, role: 'system', text: f.text, createdAt: f.createdAt, event: f.event });
  refreshQueue();
}

function bubble(messageId, cls, who, text, createdAt) {
  let li = rendered.get(messageId);
  if (!li) {
    li = el.template.content.firstElementChild.cloneNode(true);
    li.dataset.messageId = messageId;
    rendered.set(messageId, li);
    el.messages.append(li);
  }
  li.className = `msg ${cls}`;
  li.querySelector('.who-name').textContent = who;
  li.querySelector('.text').textContent = text;
  li.querySelector('.avatar').textContent = cls.startsWith('bot') ? '봇' : cls.startsWith('system') ? '' : (who || '?').slice(0, 2);
  const t = li.querySelector('time');
  if (createdAt) {
    t.dateTime = new Date(createdAt).toISOString();
    t.textContent = timeFormat.format(createdAt);
  }
  el.messages.scrollTop = el.messages.scrollHeight;
  return li;
}

// renderMessage shows a history message or a message frame.
function renderMessage(m) {
  switch (m.role) {
    case 'user':
      bubble(m.messageId, 'customer', m.userName || '고객', m.text, m.createdAt);
      break;
    case 'agent':
      bubble(m.messageId, m.userName === session.userName ? 'agent mine' : 'agent', m.userName || '상담원', m.text, m.createdAt);
      break;
    case 'bot': {
      const li = bubble(m.messageId, 'bot', '챗봇', m.text, m.createdAt);
      li.dataset.state = m.outcome === 'streaming' ? 'streaming' : m.outcome === 'complete' ? 'done' : 'error';
      break;
    }
    default:
      bubble(m.messageId, 'system', '', m.text, m.createdAt);
  }
}

function renderAnswer(a) {
  const li = bubble(a.messageId, 'bot', '챗봇', a.text, rendered.has(a.messageId) ? 0 : Date.now());
  li.dataset.state = a.state === 'complete' ? 'done' : a.state;
}

async function transition(action) {
  if (!room) return;
  const mine = room;
  try {
    const r = await api.request('POST', `/api/agent/rooms/${encodeURIComponent(mine.roomId)}/${action}`);
    if (room !== mine) return;
    room.status = r.status;
    room.assignedAgent = r.assignedAgent;
    if (r.assignedAgent === session.userId) room.agentName = session.userName;
    renderRoomHead();
    refreshQueue();
    if (action === 'claim') el.input.focus();
  } catch (err) {
    if (!expired(err)) showBanner(errorText(err));
  }
}

function send(ev) {
  ev.preventDefault();
  const text = el.input.value.trim();
  if (!text || !holdsRoom()) return;
  // The server stores the message and relays it to the room's other
  // sockets; this socket gets no echo, so it is shown here.
  if (!socket || !socket.sendAction({ action: 'sendMessage', message: text, category1: '', category2: '' })) {
    showBanner('연결이 끊겨 보내지 못했습니다. 다시 연결되면 보내 주세요.');
    return;
  }
  bubble(`local-${Date.now()}-${Math.random()}`, 'agent mine', session.userName, text, Date.now());
  el.input.value = '';
}

// ---------------------------------------------------------------------------

async function start() {
  defaults = { ...defaults, ...(await fetchConfig()) };
  api.base = apiBase(settings, defaults);
  el.loginForm.addEventListener('submit', login);
  el.logout.addEventListener('click', logout);
  el.bannerClose.addEventListener('click', hideBanner);
  el.refresh.addEventListener('click', () => refreshQueue());
  el.more.addEventListener('click', () => refreshQueue({ more: true }));
  for (const b of document.querySelectorAll('.tab')) b.addEventListener('click', () => selectTab(b.dataset.status));
  el.claim.addEventListener('click', () => transition('claim'));
  el.release.addEventListener('click', () => transition('release'));
  el.close.addEventListener('click', () => transition('close'));
  el.composer.addEventListener('submit', send);
  sendOnEnter(el.input, el.composer);
  if (session && session.token) showConsole();
}

start();
