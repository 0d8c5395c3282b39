// The lesson page: runs each experiment from this browser and draws what the service did.
//
// Plain JavaScript and SVG: no library, no build step. Every request is timed here, in the
// browser, from the moment it is sent to the moment its answer has arrived. The answers say
// which thread or process did the work, and /lesson/status says how many thread tokens the
// service has and how long its event loop stood still (its own lag probe, the one behind
// event_loop_lag_seconds on /metrics).
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';
// The lesson's pings: a /healthz request, a 50 ms pause, the next one. One at a time, so a
// loop that stands still shows as one long wait (a gap between ticks), not a pile of requests.
const PING_PAUSE_MS = 50;
// How often the page asks /lesson/status for the loop lag and the thread tokens.
const STATUS_PAUSE_MS = 100;
// Pings go on this long after the last answer, so that a stall at the very end shows too.
const TAIL_MS = 200;
// Browsers open at most six HTTP/1.1 connections to one host name and queue the rest; the
// page sends at most this many requests to each of its names (the service's
// lessons/cross_origin.py says why the names exist).
const PER_NAME = 6;
// Okabe and Ito's palette: its colours stay apart for every common colour-vision deficiency.
const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#000000', '#f0e442'];
// A chart's geometry, in SVG units (it scales to the width of its card).
const WIDTH = 640;
const LEFT = 74;
const RIGHT = 14;
const ROWS_TOP = 18;
const ROWS_HEIGHT = 150;
const LANE = 22;
const AXIS = 24;
const PANEL = ROWS_TOP + ROWS_HEIGHT + 2 * LANE + AXIS + 8;

const page = {
  status: null, // /lesson/status as the page loaded
  spread: 'one name', // how requests reach the service: 'names', 'one name' or 'multiplexed'
  results: new Map(), // experiment -> its timelines (one per route it runs)
  runs: 0,
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms) => (ms / 1000).toFixed(2);
const largest = (values) => values.reduce((a, b) => Math.max(a, b), 0);
const total = (values) => values.reduce((a, b) => a + b, 0);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : 0;
}

async function getJson(url) {
  // no-store: every answer must come from the service, never from the browser's cache.
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  return response.json();
}

// ---- where the requests go -----------------------------------------------------------------

function spreadOfRequests() {
  const [navigation] = performance.getEntriesByType('navigation');
  // HTTP/2 or 3 (behind a proxy, say) carry every request on one connection: no limit.
  if (navigation && /^h[23]/.test(navigation.nextHopProtocol)) return 'multiplexed';
  const host = location.hostname;
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(host) || host.endsWith('.localhost');
  // Names under localhost reach this machine without DNS (RFC 6761): the same server.
  return location.protocol === 'http:' && loopback ? 'names' : 'one name';
}

function requestUrl(experiment, route, index, query) {
  const url = new URL(`${route}?${query}`, location.href);
  if (page.spread === 'names') {
    url.hostname = `${experiment}-${Math.floor(index / PER_NAME)}.localhost`;
  }
  return url;
}

// Who did the work, as the route reports it: a thread of the server ('MainThread (...)' is
// the event loop's, 'AnyIO worker thread (...)' runs `def` routes, 'to_thread_3 (...)' runs
// asyncio.to_thread), or a CPU worker process (its pid is not the server's).
function workerOf(body) {
  if (body.pid !== undefined && body.pid !== page.status.pid) return `process ${body.pid}`;
  return body.thread;
}

// When the route itself worked, on the service's clock (time.monotonic(), in seconds): the
// delay it waited, or the CPU work it timed.
function workOf(body) {
  const finished = body.waited !== undefined ? body.started + body.waited : body.finished;
  return [body.started, finished];
}

// ---- one timeline: N requests at once, pings and the loop lag beside them -------------------

async function ping(timeline, started, stop) {
  while (!stop.done) {
    const sent = performance.now() - started;
    await getJson('../healthz');
    timeline.pings.push({ sent, answered: performance.now() - started });
    await sleep(PING_PAUSE_MS);
  }
}

// Each late wake-up of the service's lag probe, placed on this timeline: the loop stood still
// from (woke - late) to woke.
async function watchTheLoop(timeline, stop, baseline, onTimeline) {
  let since = baseline.now;
  while (!stop.done) {
    await sleep(STATUS_PAUSE_MS);
    const status = await getJson(`status?since=${since}`);
    // With WORKERS > 1 another worker may answer: its clock and its loop are not the same.
    if (status.pid !== baseline.pid) continue;
    for (const [woke, late] of status.loop_lag.late) {
      timeline.lag.push({ from: onTimeline(woke - late), to: onTimeline(woke), stalled: late * 1000 });
    }
    since = status.now;
    timeline.waiting = Math.max(timeline.waiting, status.thread_tokens_waiting);
    timeline.stalled = (status.loop_lag.seconds - baseline.loop_lag.seconds) * 1000;
  }
}

async function runTimeline(experiment, route, n, query) {
  // Read before the first request leaves, so that a loop that stalls at once still counts;
  // on an idle loop the answer takes a millisecond or two, which places the service's clock
  // on this page's to within about that: halfway between asking and being answered.
  const asked = performance.now();
  const baseline = await getJson('status');
  const started = performance.now();
  const offset = (asked + started) / 2 - baseline.now * 1000;
  const onTimeline = (serviceSeconds) => serviceSeconds * 1000 + offset - started;
  const timeline = { route, n, query, requests: [], pings: [], lag: [], waiting: 0, stalled: 0, duration: 0 };
  const stop = { done: false };
  const failures = [];
  // A handler from the start: a failed ping is reported with the run, not as uncaught.
  const beside = [ping(timeline, started, stop), watchTheLoop(timeline, stop, baseline, onTimeline)]
    .map((running) => running.catch((error) => failures.push(error)));
  try {
    const answers = await Promise.all(Array.from({ length: n }, async (_, index) => {
      const sent = performance.now() - started;
      const body = await getJson(requestUrl(experiment, route, index, query));
      return { index, sent, answered: performance.now() - started, body };
    }));
    timeline.requests = answers.map(({ index, sent, answered, body }) => {
      // Within the request's own span: the two clocks agree to a millisecond or two only.
      const within = (ms) => Math.min(answered, Math.max(sent, ms));
      const [from, to] = workOf(body).map(onTimeline).map(within);
      return { index, sent, answered, workFrom: from, workTo: to, worker: workerOf(body) };
    });
    await sleep(TAIL_MS);
  } finally {
    stop.done = true;
    await Promise.all(beside);
  }
  if (failures.length) throw failures[0];
  timeline.duration = largest([
    ...timeline.requests.map((r) => r.answered),
    ...timeline.pings.map((p) => p.answered),
  ]);
  return timeline;
}

// ---- what a timeline shows, in numbers ----------------------------------------------------

function summary(timeline) {
  const requests = timeline.requests;
  const work = median(requests.map((r) => r.workTo - r.workFrom));
  // Work that starts together is one wave; a pause of half the work starts the next.
  const starts = requests.map((r) => r.workFrom).sort((a, b) => a - b);
  const gaps = starts.slice(1).map((at, i) => at - starts[i]);
  return {
    n: requests.length,
    total: largest(requests.map((r) => r.answered)) - Math.min(...requests.map((r) => r.sent)),
    waves: 1 + gaps.filter((gap) => gap > Math.max(50, work / 2)).length,
    gap: median(gaps),
    // Answers that waited after their work for half of it or more.
    heldAfter: requests.filter((r) => r.answered - r.workTo > Math.max(50, work / 2)).length,
    workers: new Set(requests.map((r) => r.worker)),
    longestPing: largest(timeline.pings.map((p) => p.answered - p.sent)),
    stalled: timeline.stalled,
    waiting: timeline.waiting,
  };
}

function theLoop(s) {
  if (s.longestPing > 250) {
    return `the loop stood still for ${seconds(s.stalled)} s in all, and /healthz waited up to ${seconds(s.longestPing)} s`;
  }
  if (s.stalled > 100) {
    return `the loop kept answering, late: its probes woke ${seconds(s.stalled)} s late in all, and /healthz answered within ${Math.round(s.longestPing)} ms`;
  }
  return `the loop stayed free: /healthz answered within ${Math.round(s.longestPing)} ms`;
}

function oneName(s) {
  return page.spread === 'one name' && s.n > PER_NAME
    ? ` (This browser sends at most ${PER_NAME} requests at once to one name: open the page on localhost to lift that.)`
    : '';
}

function workersText(workers) {
  if (workers.size === 1) {
    const [only] = workers;
    return only.startsWith('MainThread') ? 'one thread (the event loop\'s)' : `one thread (${only})`;
  }
  return `${workers.size} threads`;
}

// One sentence per experiment, in the lesson's words, with the figures of this run.
const CAPTIONS = {
  'slow': ([t], s = summary(t)) => `${s.n} requests awaited asyncio.sleep(${t.delay}) and all were answered after ${seconds(s.total)} s, not ${(s.n * t.delay).toFixed(1)} s: await hands the loop to the other requests while one waits, so ${workersText(s.workers)} served them all at once, and ${theLoop(s)}.${oneName(s)}`,
  'sync-slow': ([t], s = summary(t)) => `${s.n} requests, ${page.status.thread_tokens} thread tokens: ${s.waves > 1 ? `they slept in ${s.waves} waves, ${seconds(s.total)} s in all` : `they all slept at once, ${seconds(s.total)} s in all`}. A def route blocks a worker thread, not the loop, and holds a thread token while it sleeps; ${s.n > page.status.thread_tokens ? `the others queue for a free one (${s.waiting} waited at once)` : `raise N above ${page.status.thread_tokens} to see the others queue`}${s.heldAfter ? `, and ${s.heldAfter} answers queued again after their sleep: FastAPI validates a def route's answer in the thread pool too, for another token` : ''}; ${theLoop(s)}.${oneName(s)}`,
  'offload': ([t], s = summary(t)) => `${s.n} requests awaited asyncio.to_thread(time.sleep, ${t.delay}) and were answered after ${seconds(s.total)} s${s.waves > 1 ? `, in ${s.waves} waves` : ''}: the blocking call ran in the loop's executor (${s.workers.size} of its ${page.status.to_thread_workers} threads, TO_THREAD_MAX_WORKERS) while the route awaited it, so ${theLoop(s)}.${oneName(s)}`,
  'blocking': ([t], s = summary(t)) => `${s.n} requests ran one after another, ${seconds(s.gap)} s apart (${seconds(s.total)} s in all): time.sleep inside async def stops the event loop, so every other request of this worker waits, /healthz included; ${theLoop(s)}.`,
  'cpu': ([inDef, inPool], a = summary(inDef), b = summary(inPool)) => `${a.n} requests of ${inDef.steps} steps took ${seconds(a.total)} s in def, on ${a.workers.size} threads that share one GIL and take turns, and ${seconds(b.total)} s in the process pool, on ${b.workers.size} processes with a GIL each, ${b.total < 0.8 * a.total ? `in parallel on other cores (${(a.total / b.total).toFixed(1)}x as fast)` : `no faster here: processes run in parallel only on cores with time to spare (this machine has ${page.status.cores}, and other work)`}. In def ${theLoop(a)}; with the pool ${theLoop(b)}.`,
};

// ---- drawing ----------------------------------------------------------------------------------

function svg(tag, attributes, parent) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  parent.append(node);
  return node;
}

function label(text, attributes, parent) {
  svg('text', attributes, parent).textContent = text;
}

// One scale for every chart on the page, so that two runs compare at a glance.
function commonScale() {
  const longest = largest([...page.results.values()].flat().map((t) => t.duration));
  return Math.max(1000, Math.ceil(longest / 500) * 500);
}

function tickStep(scale) {
  return [100, 200, 500, 1000, 2000, 5000, 10000].find((step) => scale / step <= 8) || 20000;
}

// Colours by worker, in the order they first did work; the event loop's thread is always the
// first colour, so the same colour means the same thread in every chart.
function colours(timelines) {
  const workers = [...new Set(timelines.flatMap((t) => t.requests.map((r) => r.worker)))];
  workers.sort((a, b) => b.startsWith('MainThread') - a.startsWith('MainThread'));
  return new Map(workers.map((worker, i) => [worker, PALETTE[i % PALETTE.length]]));
}

function shortName(worker) {
  // 'AnyIO worker thread (140234567891)' -> 'AnyIO worker thread ..7891': enough to tell apart.
  const match = /^(.*) \((\d+)\)$/.exec(worker);
  return match ? `${match[1]} ..${match[2].slice(-4)}` : worker;
}

function drawPanel(chart, timeline, top, scale, colourOf) {
  const x = (ms) => LEFT + (ms / scale) * (WIDTH - LEFT - RIGHT);
  const panel = svg('g', { class: 'panel', 'data-route': timeline.route }, chart);
  label(`/lesson/${timeline.route}`, { x: LEFT, y: top + 12 }, panel);

  const bottom = top + ROWS_TOP + ROWS_HEIGHT;
  const step = tickStep(scale);
  const axis = svg('g', { class: 'axis' }, panel);
  for (let at = 0; at <= scale; at += step) {
    svg('line', { class: 'grid', x1: x(at), x2: x(at), y1: top + ROWS_TOP, y2: bottom + 2 * LANE }, axis);
    label(`${at / 1000} s`, { x: x(at), y: bottom + 2 * LANE + 14, 'text-anchor': 'middle' }, axis);
  }

  // One row per request, in the order they started their work: waves show as steps.
  label('requests', { x: 4, y: top + ROWS_TOP + 12 }, panel);
  const rows = [...timeline.requests].sort((a, b) => a.workFrom - b.workFrom || a.index - b.index);
  const row = ROWS_HEIGHT / rows.length;
  const thickness = Math.max(1, Math.min(10, row * 0.7));
  rows.forEach((r, i) => {
    const y = top + ROWS_TOP + i * row + row / 2;
    const request = svg('g', {
      class: 'request',
      'data-index': r.index,
      'data-sent': r.sent.toFixed(1),
      'data-answered': r.answered.toFixed(1),
      'data-work-from': r.workFrom.toFixed(1),
      'data-work-to': r.workTo.toFixed(1),
      'data-worker': r.worker,
    }, panel);
    svg('title', {}, request).textContent = `request ${r.index + 1}: sent at ${seconds(r.sent)} s, worked from ${seconds(r.workFrom)} to ${seconds(r.workTo)} s by ${r.worker}, answered at ${seconds(r.answered)} s`;
    // In flight from sent to answered (the thin line), at work in its route (the bar).
    svg('line', { class: 'wait', x1: x(r.sent), x2: x(r.answered), y1: y, y2: y }, request);
    svg('rect', {
      class: 'work',
      x: x(r.workFrom),
      y: y - thickness / 2,
      width: Math.max(1, x(r.workTo) - x(r.workFrom)),
      height: thickness,
      fill: colourOf.get(r.worker),
    }, request);
  });

  // /healthz: a tick per answer; a ping that waited long is a line from sent to answered.
  const pings = bottom + 4;
  label('/healthz', { x: 4, y: pings + 13 }, panel);
  for (const p of timeline.pings) {
    const ping = svg('g', { class: 'ping', 'data-sent': p.sent.toFixed(1), 'data-answered': p.answered.toFixed(1) }, panel);
    if (p.answered - p.sent > 100) svg('line', { class: 'late', x1: x(p.sent), x2: x(p.answered), y1: pings + 9, y2: pings + 9 }, ping);
    svg('line', { class: 'tick', x1: x(p.answered), x2: x(p.answered), y1: pings + 2, y2: pings + 16 }, ping);
  }

  // The loop lag: when the service's probe found the loop standing still.
  const lag = pings + LANE;
  label('loop lag', { x: 4, y: lag + 13 }, panel);
  for (const l of timeline.lag) {
    svg('rect', {
      class: 'stalled',
      'data-from': l.from.toFixed(1),
      'data-to': l.to.toFixed(1),
      'data-stalled': l.stalled.toFixed(1),
      x: x(Math.max(0, l.from)),
      y: lag + 2,
      width: Math.max(1, x(l.to) - x(Math.max(0, l.from))),
      height: 14,
    }, panel);
  }
}

function draw(section) {
  const timelines = page.results.get(section.dataset.experiment);
  const chart = section.querySelector('svg.timeline');
  const scale = commonScale();
  const colourOf = colours(timelines);
  chart.replaceChildren();
  chart.setAttribute('viewBox', `0 0 ${WIDTH} ${PANEL * timelines.length}`);
  chart.dataset.scale = scale;
  timelines.forEach((timeline, i) => drawPanel(chart, timeline, i * PANEL, scale, colourOf));

  const legend = section.querySelector('.legend');
  legend.replaceChildren();
  const shown = [...colourOf].slice(0, PALETTE.length);
  for (const [worker, colour] of shown) {
    const item = document.createElement('li');
    const swatch = svg('svg', { viewBox: '0 0 12 12', 'aria-hidden': 'true' }, item);
    svg('rect', { width: 12, height: 12, fill: colour }, swatch);
    item.append(shortName(worker));
    legend.append(item);
  }
  if (colourOf.size > shown.length) {
    const more = document.createElement('li');
    more.textContent = `and ${colourOf.size - shown.length} more (the colours repeat)`;
    legend.append(more);
  }
}

// ---- the page ----------------------------------------------------------------------------------

async function run(section, form) {
  const experiment = section.dataset.experiment;
  const chart = section.querySelector('svg.timeline');
  const caption = section.querySelector('figcaption');
  const button = form.querySelector('button');
  const n = form.elements.n.valueAsNumber;
  const parameter = form.elements.delay || form.elements.steps;
  const query = new URLSearchParams({ [parameter.name]: parameter.value });
  const routes = section.dataset.routes.split(' ');

  button.disabled = true;
  chart.dataset.state = 'running';
  caption.classList.remove('error');
  caption.textContent = `Running ${n} requests at once against ${routes.map((r) => `/lesson/${r}`).join(', then ')}...`;
  try {
    const timelines = [];
    for (const route of routes) {
      const timeline = await runTimeline(experiment, route, n, query);
      timeline[parameter.name] = parameter.valueAsNumber;
      timelines.push(timeline);
    }
    page.results.set(experiment, timelines);
    page.runs += 1;
    // A longer run may have changed the common scale: every chart is drawn again.
    for (const drawn of document.querySelectorAll('.experiment')) {
      if (page.results.has(drawn.dataset.experiment)) draw(drawn);
    }
    caption.textContent = CAPTIONS[experiment](timelines);
    chart.dataset.state = 'done';
    chart.dataset.run = page.runs;
  } catch (error) {
    chart.dataset.state = 'error';
    caption.classList.add('error');
    caption.textContent = `The experiment failed: ${error.message}. Is the service still running?`;
  } finally {
    button.disabled = false;
  }
}

function describeTheService(status) {
  document.getElementById('service').textContent = `This service: ${status.thread_tokens} thread tokens for def routes (ANYIO_THREAD_TOKENS), ${status.to_thread_workers} asyncio.to_thread workers (TO_THREAD_MAX_WORKERS), ${status.cpu_workers} CPU worker processes (CPU_WORKERS), anti-patterns ${status.antipatterns ? 'on' : 'off'} (ENABLE_ANTIPATTERNS).`;
  const names = document.getElementById('names');
  names.hidden = false;
  names.textContent = {
    'names': `A browser opens at most ${PER_NAME} connections to one server name, so this page sends its requests to names of its own, slow-0.localhost, slow-1.localhost and so on: they all reach this machine, this server, this port (and /healthz goes to the name you opened).`,
    'one name': `This page was not opened on localhost or 127.0.0.1, so every request goes to ${location.host}, to which a browser sends at most ${PER_NAME} at once: the rest wait in the browser. Open it as http://localhost:<port>/lesson/ to see more at once.`,
    'multiplexed': 'This page came over HTTP/2 or 3: one connection carries every request at once.',
  }[page.spread];
}

function prepare(section, status) {
  const form = section.querySelector('form');
  const { n, delay, steps } = form.elements;
  // The routes' own bounds: the page never asks for what they would refuse.
  n.max = status.bounds.max_requests;
  if (delay) delay.max = status.bounds.max_delay;
  if (steps) steps.max = status.bounds.max_steps;
  if (section.dataset.experiment === 'sync-slow') {
    // Past the thread tokens, half as many again: the queue shows as a second wave.
    n.value = Math.min(status.bounds.max_requests, status.thread_tokens + Math.ceil(status.thread_tokens / 2));
  }
  if (section.dataset.experiment === 'cpu') n.value = 2 * status.cpu_workers;
  const button = form.querySelector('button');
  button.disabled = false;
  if (section.dataset.experiment === 'blocking') {
    button.disabled = !status.antipatterns;
    button.textContent = status.antipatterns ? 'Run' : 'Needs ENABLE_ANTIPATTERNS=true';
    section.querySelector('.note').hidden = status.antipatterns;
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    // The browser refuses a submit with a value out of bounds; checked again all the same.
    if (form.reportValidity()) run(section, form);
  });
}

async function start() {
  page.spread = spreadOfRequests();
  try {
    page.status = await getJson('status');
  } catch (error) {
    document.getElementById('service').textContent = `The service did not answer /lesson/status (${error.message}).`;
    for (const button of document.querySelectorAll('.controls button')) button.disabled = true;
    return;
  }
  describeTheService(page.status);
  for (const section of document.querySelectorAll('.experiment')) prepare(section, page.status);
  document.body.dataset.ready = 'true';
}

start();
