// Live dashboard: one server-sent event per refresh; rates come from successive snapshots.
const previous = {};
const series = {};
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const figure = (c) => (c === null || c === undefined ? "—" : c);  // a service that did not answer: no figure
const rows = (id, data) => {
  document.getElementById(id).innerHTML = data.map((r) => "<tr>" + r.map((c) => `<td>${figure(c)}</td>`).join("") + "</tr>").join("");
};

function lineChart(id, name, t, y) {
  series[id] = series[id] || {};
  const s = (series[id][name] = series[id][name] || {x: [], y: [], name, mode: "lines"});
  s.x.push(t); s.y.push(y);
  if (s.x.length > 90) { s.x.shift(); s.y.shift(); }
}

function render(snap) {
  const t = new Date(snap.at);
  document.getElementById("status").textContent = "live · " + t.toLocaleTimeString();
  document.getElementById("lab-results").textContent = figure(snap.lab_results_stored);
  rows("workers", snap.workers.map((w) => [esc(w.name), w.ready ? '<span class="ok">ready</span>' : '<span class="bad">down</span>',
    Math.round(w.processed) + " processed", Math.round(w.dead_letters) + " dead-lettered"]));
  const f = snap.funnel;
  rows("funnel", [["letters sent", f.letters_sent], ["activated", f.activated], ["logged in", f.logged_in]]);
  const g = snap.grants;
  rows("grants", [["active (time-limited)", g.active], ["expiring in 24 h", g.expiring_24h], ["expired", g.expired]]);
  const glass = snap.break_the_glass;  // professionals only (id and counts): never a patient
  document.getElementById("glass-rule").textContent = glass.threshold ? `≥ ${glass.threshold} patients in ${glass.window_hours} h` : "";
  rows("glass", glass.professionals === null ? [["access did not answer", null, null, null]]
    : glass.professionals.length ? glass.professionals.map((p) => [esc(p.professional_id), p.patients + " patients",
        p.uses + " uses", esc(p.last_at)])
    : [["nobody", "", "", ""]]);
  rows("channels", Object.entries(snap.channels).map(([ch, c]) => [esc(ch), c.delivered + " delivered", c.failed + " failed"]));
  rows("dlq", Object.entries(snap.dlq_depth).filter(([, n]) => n > 0).map(([topic, n]) =>
    [esc(topic), n, `<button data-topic="${esc(topic)}" class="inspect">inspect</button>`]));
  for (const w of snap.workers) {
    const p = previous[w.name];
    if (p) {
      const dt = (t - p.t) / 1000, dn = w.processed - p.processed;
      lineChart("throughput", w.name, t, dt > 0 ? dn / dt : 0);
      lineChart("latency", w.name, t, dn > 0 ? (1000 * (w.seconds - p.seconds)) / dn : 0);
    }
    previous[w.name] = {t, processed: w.processed, seconds: w.seconds};
  }
  const layout = {margin: {t: 10, r: 10, b: 30, l: 40}, showlegend: true, legend: {orientation: "h"}};
  for (const id of ["throughput", "latency"]) Plotly.react(id, Object.values(series[id] || {}), layout, {displayModeBar: false});
  const lag = {};
  for (const l of snap.lag) {
    const g = (lag[l.group] = lag[l.group] || {total: 0, behind: []});
    g.total += l.lag;
    if (l.lag > 0) g.behind.push(`${l.topic}[${l.partition}]: ${l.lag}`);
  }
  rows("lag", Object.keys(lag).length ? Object.entries(lag).map(([group, g]) => [esc(group), g.total, esc(g.behind.join(", "))])
                                      : [["no committed offsets yet", "", ""]]);
}

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const replayer = document.body.dataset.role === "replayer";
let shown = null;  // the dead letter whose payload is on screen

function loggedOut() { window.location.assign("/login?ended=true"); }

async function post(path, body) {
  const r = await fetch(path, {method: "POST", credentials: "same-origin",
    headers: {"content-type": "application/json", "x-csrf-token": csrf}, body: JSON.stringify(body)});
  if (r.status === 401) loggedOut();
  return {ok: r.ok, status: r.status, out: await r.json()};
}

async function inspect(topic) {
  document.getElementById("dlq-topic").textContent = topic;
  const r = await fetch("/api/dlq?topic=" + encodeURIComponent(topic), {credentials: "same-origin"});
  if (r.status === 401) return loggedOut();
  const letters = await r.json();
  rows("letters", letters.map((l) => {
    const where = `data-topic="${esc(l.topic)}" data-partition="${+l.partition}" data-offset="${+l.offset}"`;
    const actions = replayer ? `<button class="payload" ${where}>payload</button> <button class="replay" ${where}>replay</button>` : "";
    return [+l.partition + "/" + +l.offset, esc(l.reason), esc(l.kind), esc(l.failed_at), actions];
  }));
}

function letterOf(b) { return {topic: b.dataset.topic, partition: +b.dataset.partition, offset: +b.dataset.offset}; }

async function payload(letter, unmasked) {
  const {ok, out} = await post("/api/dlq/payload", {...letter, unmasked});
  const box = document.getElementById("payload-box");
  box.hidden = false;
  document.getElementById("payload-where").textContent = `${letter.topic} ${letter.partition}/${letter.offset}`;
  document.getElementById("payload-mode").textContent = ok ? (out.value.masked ? "masked" : "unmasked") : "";
  document.getElementById("payload").textContent = ok
    ? `key: ${out.key}\n${out.value.truncated ? "(truncated) " : ""}${out.value.bytes} bytes\n\n${out.value.text}`
    : "refused: " + JSON.stringify(out);
  shown = ok ? letter : null;
}

async function replay(b) {
  const {ok, out} = await post("/api/dlq/replay", letterOf(b));
  document.getElementById("replayed").textContent = ok
    ? `replayed ${out.dlq} ${out.partition}/${out.offset} to ${out.source} (partition ${out.replayed_to_partition}, offset ${out.replayed_to_offset}) by ${out.operator}`
    : "replay failed: " + JSON.stringify(out);
}

document.addEventListener("click", (e) => {
  const t = e.target;
  if (t.classList.contains("inspect")) inspect(t.dataset.topic);
  if (t.classList.contains("payload")) payload(letterOf(t), false);
  if (t.classList.contains("replay")) replay(t);
  if (t.id === "unmask" && shown) payload(shown, true);
});
const source = new EventSource("/api/stream");
source.addEventListener("snapshot", (e) => render(JSON.parse(e.data)));
source.addEventListener("problem", (e) => { document.getElementById("status").textContent = "problem: " + e.data; });
source.addEventListener("ended", () => { source.close(); loggedOut(); });
source.addEventListener("error", () => {
  if (source.readyState === EventSource.CLOSED) document.getElementById("status").textContent = "disconnected; reload the page";
});
// logging out ends the session: the stream is closed first, or its "ended" event may redirect the page to
// /login?ended=true ("your session has ended") before the logout's own redirect to /login arrives
document.getElementById("logout").form.addEventListener("submit", () => source.close());
