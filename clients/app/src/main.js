// The clerk app: Preact components (htm templates, no JSX step) over the app's data layer.
import { h, render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import { AppData } from "./data.js";
import { chooseLanguage, formatTime, saveLanguage, texts } from "./i18n.js";

const html = htm.bind(h);
const data = new AppData();

function useAppState() {
  const [state, setState] = useState(data.state);
  useEffect(() => {
    // Effects run after the first paint: the data layer may already have moved on (IndexedDB can
    // answer first), so catch up with its current state after subscribing, or that update is lost.
    const unsubscribe = data.subscribe(setState);
    setState(data.state);
    return unsubscribe;
  }, []);
  return state;
}

function useRoute() {
  const [hash, setHash] = useState(location.hash || "#/");
  useEffect(() => {
    const onChange = () => setHash(location.hash || "#/");
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return hash.slice(1).split("/").filter(Boolean);
}

const ICONS = {
  tasks: "M4 6h16M4 12h16M4 18h10",
  scan: "M4 8V4h4M16 4h4v4M20 16v4h-4M8 20H4v-4M7 12h10",
  inbox: "M3 6h18v12H3zM3 7l9 6 9-6",
  tips: "M12 3l2.6 5.6 6 .7-4.5 4.1 1.2 6L12 16.5 6.7 19.4l1.2-6L3.4 9.3l6-.7z",
};

function Icon({ name }) {
  return html`<svg class="icon" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" fill="none"
    stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d=${ICONS[name]} /></svg>`;
}

function App() {
  const state = useAppState();
  const [lang, setLang] = useState(chooseLanguage());
  const route = useRoute();
  const t = texts(lang);
  useEffect(() => saveLanguage(lang), [lang]);
  useEffect(() => data.setLocale(lang), [lang]);
  const switchLang = () => setLang(lang === "en" ? "zh-CN" : "en");
  if (!state.ready) return html`<p class="boot">${t.appName}…</p>`;
  if (!state.user) return html`<${SignIn} t=${t} switchLang=${switchLang} state=${state} />`;
  const [screen = "tasks", arg] = route;
  let body;
  if (screen === "task") body = html`<${TaskDetail} t=${t} lang=${lang} state=${state} id=${Number(arg)} />`;
  else if (screen === "scan") body = html`<${Scan} t=${t} lang=${lang} state=${state} />`;
  else if (screen === "inbox") body = html`<${Inbox} t=${t} lang=${lang} state=${state} />`;
  else if (screen === "tips") body = html`<${Tips} t=${t} state=${state} />`;
  else body = html`<${TaskList} t=${t} lang=${lang} state=${state} />`;
  const unread = state.notifications.filter((n) => !n.read_at).length;
  return html`<div class="shell">
    <header class="top">
      <h1>${t.appName}<small>${state.user.store || ""} · ${state.user.display_name || state.user.username}</small></h1>
      <button type="button" data-testid="lang" onClick=${switchLang}>${t.language}</button>
      <button type="button" onClick=${() => signOut(t)}>${t.signOut}</button>
    </header>
    <${NetBar} t=${t} lang=${lang} state=${state} />
    <main>${body}</main>
    <nav class="bottom">
      <a href="#/" class=${screen === "tasks" ? "active" : ""}><${Icon} name="tasks" />${t.tasks}</a>
      <a href="#/scan" class=${"scan " + (screen === "scan" ? "active" : "")}><span class="scan-dot"><${Icon} name="scan" /></span>${t.scan}</a>
      <a href="#/inbox" class=${screen === "inbox" ? "active" : ""}><${Icon} name="inbox" />${t.inbox}
        ${unread ? html`<span class="count" data-testid="unread">${unread}</span>` : null}</a>
      <a href="#/tips" class=${screen === "tips" ? "active" : ""}><${Icon} name="tips" />${t.tips}</a>
    </nav>
  </div>`;
}

async function signOut(t) {
  try {
    await data.signOut(false);
  } catch (error) {
    if (error?.name === "PendingMutationsError" && confirm(t.discardPending(error.count))) await data.signOut(true);
  }
}

function NetBar({ t, lang, state }) {
  const waiting = state.pending.length;
  return html`<div class=${"netbar" + (state.online ? "" : " offline")} data-testid="netbar"
      data-online=${String(state.online)} data-pending=${waiting} data-syncing=${String(state.syncing)}>
    <strong>${state.online ? t.online : t.offline}</strong>
    <span class="grow">${waiting ? t.pending(waiting) : t.synced}
      ${state.lastSync ? html` · ${t.lastSync} ${formatTime(state.lastSync, lang)}` : null}</span>
    ${state.online ? html`<button type="button" onClick=${() => data.syncNow()}>${t.syncNow}</button>` : null}
  </div>`;
}

function SignIn({ t, switchLang, state }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    setBusy(true);
    setError("");
    try {
      await data.signIn(String(form.get("username")).trim(), String(form.get("password")));
      location.hash = "#/";
    } catch (failure) {
      setError(failure.status === 401 || failure.code === "invalid_credentials" ? t.wrongLogin
        : !navigator.onLine ? t.needNetwork : failure.message || String(failure));
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="login" onSubmit=${submit}>
    <h1>${t.appName}</h1>
    <label class="field">${t.username}<input type="text" name="username" autocomplete="username" autocapitalize="none" required /></label>
    <label class="field">${t.password}<input type="password" name="password" autocomplete="current-password" required /></label>
    ${error ? html`<p class="notice bad" role="alert">${error}</p>` : null}
    <button class="btn primary block" type="submit" disabled=${busy}>${busy ? t.signingIn : t.signIn}</button>
    <button class="btn block" type="button" onClick=${switchLang}>${t.language}</button>
    ${state.online ? null : html`<p class="notice warn">${t.needNetwork}</p>`}
  </form>`;
}

function StatusBadges({ t, task }) {
  return html`<span class=${"badge " + task.status} data-testid="status">${t.status[task.status] || task.status}</span>
    ${task.pending?.length ? html`<span class="badge pending" data-testid="waiting">${t.waiting} ${task.pending.length}</span>` : null}
    ${isOverdue(task) ? html`<span class="badge overdue">${t.overdue}</span>` : null}
    ${task.late ? html`<span class="badge overdue">${t.late}</span>` : null}`;
}

function isOverdue(task) {
  return ["open", "claimed", "in_progress"].includes(task.status) && task.due_at && new Date(task.due_at) < new Date();
}

function TaskCard({ t, lang, task }) {
  return html`<a class="card" href=${"#/task/" + task.id} data-testid="task-card" data-task-id=${task.id}>
    <p class="title">${task.title}</p>
    <div class="meta"><${StatusBadges} t=${t} task=${task} />
      ${task.due_at ? html`<span>${t.due} ${formatTime(task.due_at, lang)}</span>` : null}
      <span>${task.campaign?.title || ""}</span></div>
  </a>`;
}

/** Who holds the task a claim lost: the server's state of it, else the error's details. */
function holders(rejection) {
  if (rejection.error !== "task_already_claimed") return [];
  const claimants = rejection.entity?.claimants?.length ? rejection.entity.claimants : [].concat(rejection.details?.held_by ?? []);
  return claimants.map((c) => ({ name: c.display_name || c.username, at: c.claimed_at }));
}

/** The server's per-field reasons (e.g. each missing proof item) as readable lines. */
function problems(rejection) {
  const errors = rejection.details?.errors;
  if (!errors || typeof errors !== "object") return [];
  if (Array.isArray(errors)) return errors.map(String);
  return Object.entries(errors).map(([field, reasons]) => `${field}: ${[].concat(reasons).join(" ")}`);
}

function Rejections({ t, lang, state, taskId }) {
  const shown = state.rejections.filter((r) => taskId == null || r.taskId === taskId);
  return shown.map((rejection) => html`<div class="notice bad" role="alert" data-testid="rejection" data-error=${rejection.error}>
    <strong>${t.rejected}:</strong> ${t.errors[rejection.error] || rejection.error}
    <div class="muted">${rejection.message}</div>
    ${holders(rejection).length ? html`<div data-testid="held-by">${t.heldBy(holders(rejection).map((c) => c.name).join(", "), formatTime(holders(rejection)[0].at, lang))}</div>` : null}
    ${rejection.entity ? html`<div class="muted">${t.serverState}: ${t.status[rejection.entity.status] || rejection.entity.status}</div>` : null}
    ${problems(rejection).length ? html`<ul class="plain" data-testid="problems">${problems(rejection).map((line) => html`<li>${line}</li>`)}</ul>` : null}
    <div class="row">${taskId == null && rejection.taskId ? html`<a class="btn" href=${"#/task/" + rejection.taskId}>${t.tasks} #${rejection.taskId}</a>` : null}
      <button class="btn" type="button" onClick=${() => data.dismissRejection(rejection.id)}>${t.dismiss}</button></div>
  </div>`);
}

function TaskList({ t, lang, state }) {
  const me = state.user.username;
  const tasks = [...state.tasks].sort((a, b) => String(a.due_at || "9").localeCompare(String(b.due_at || "9")) || a.id - b.id);
  const mine = tasks.filter((task) => task.claimants.some((c) => c.username === me) && !["approved", "cancelled"].includes(task.status));
  const open = tasks.filter((task) => task.status === "open");
  const done = tasks.filter((task) => !mine.includes(task) && !open.includes(task));
  const section = (title, list, id) => list.length ? html`<section data-testid=${id}><h2>${title} (${list.length})</h2>
    <div class="list">${list.slice(0, 200).map((task) => html`<${TaskCard} key=${task.id} t=${t} lang=${lang} task=${task} />`)}</div></section>` : null;
  return html`<${Rejections} t=${t} lang=${lang} state=${state} />
    ${tasks.length ? null : html`<p class="notice">${t.noTasks}</p>`}
    ${section(t.mine, mine, "mine")}${section(t.open, open, "open")}${section(t.other, done, "other")}`;
}

function TaskDetail({ t, lang, state, id }) {
  const task = state.tasks.find((item) => item.id === id);
  if (!task) return html`<p class="notice">${t.noTasks}</p><a class="btn" href="#/">${t.back}</a>`;
  const me = state.user.username;
  const mineNow = task.claimants.some((c) => c.username === me);
  const working = mineNow && ["claimed", "in_progress"].includes(task.status);
  const proof = task.proof || {};
  const featured = task.campaign?.featured_skus || [];
  return html`<article class="card" data-testid="task-detail" data-task-id=${task.id}>
      <p class="title">${task.title}</p>
      <div class="meta"><${StatusBadges} t=${t} task=${task} />
        ${task.due_at ? html`<span>${t.due} ${formatTime(task.due_at, lang)}</span>` : null}</div>
      <p>${task.instructions}</p>
      ${task.instructions_changed ? html`<p class="notice warn">${t.instructionsChanged}</p>` : null}
      <div class="muted" data-testid="claimants">${t.claimants}: ${task.claimants.length
        ? task.claimants.map((c) => `${c.display_name || c.username} ${t.since} ${formatTime(c.claimed_at, lang)}`).join(", ")
        : t.nobody}</div>
      ${proof.photos || proof.quantity || proof.observed_price ? html`<div class="muted">${t.proof}: ${[
        proof.photos ? t.photosNeeded(proof.photos) : null, proof.quantity ? t.submitQuantity : null,
        proof.observed_price ? t.observedPrice : null].filter(Boolean).join(" · ")}</div>` : null}
    </article>
    <${Rejections} t=${t} lang=${lang} state=${state} taskId=${task.id} />
    ${task.status === "open" ? html`<a class="btn primary block" href="#/scan" data-testid="scan-to-claim">${t.scanToClaim}</a>` : null}
    ${Object.keys(task.checklist || {}).length ? html`<section class="card"><h2>${t.checklist}</h2>
      ${Object.entries(task.checklist).map(([itemId, item]) => html`<label class="check" key=${itemId}>
        <input type="checkbox" data-item=${itemId} checked=${item.done} disabled=${!working}
          onChange=${(event) => data.mutate("set_checklist_item", { task_id: task.id, item_id: itemId, done: event.target.checked })} />
        <span>${item.label}</span>${task.pendingItems?.has(itemId) ? html`<span class="badge pending">${t.waiting}</span>` : null}</label>`)}
    </section>` : null}
    <${Sales} t=${t} task=${task} featured=${featured} working=${working} />
    <${Notes} t=${t} lang=${lang} task=${task} />
    <${Photos} t=${t} task=${task} working=${working} />
    ${working ? html`<${SubmitForm} t=${t} task=${task} featured=${featured} />` : null}
    ${(task.recommendations || []).length ? html`<section class="card"><h2>${t.tips}</h2>
      ${task.recommendations.map((rec) => html`<${Recommendation} key=${rec.sku} t=${t} rec=${rec} state=${state} />`)}</section>` : null}
    ${mineNow && task.status === "claimed" ? html`<div class="sticky-actions">
      <button class="btn" type="button" onClick=${() => data.mutate("unclaim_task", { task_id: task.id })}>${t.unclaim}</button>
      <button class="btn primary" type="button" data-testid="start" onClick=${() => data.mutate("start_task", { task_id: task.id })}>${t.start}</button></div>` : null}`;
}

function Sales({ t, task, featured, working }) {
  const skus = [...new Set([...featured, ...Object.keys(task.sales || {})])];
  const [sku, setSku] = useState(skus[0] || "");
  const [quantity, setQuantity] = useState("1");
  if (!working && !Object.keys(task.sales || {}).length) return null;
  const record = (event) => {
    event.preventDefault();
    const amount = Number.parseInt(quantity, 10);
    if (!sku || !(amount >= 1)) return;
    data.mutate("record_sale", { task_id: task.id, sku, quantity: amount });
    setQuantity("1");
  };
  return html`<section class="card"><h2>${t.sales}</h2>
    ${Object.entries(task.sales || {}).map(([code, count]) => html`<div class="row" data-testid="sale" data-sku=${code}>
      <span class="grow">${code}</span><strong data-testid="sale-count">${count}</strong>
      ${task.pendingSales?.[code] ? html`<span class="badge pending">+${task.pendingSales[code]} ${t.waiting}</span>` : null}</div>`)}
    ${working ? html`<form class="row" onSubmit=${record} data-testid="sale-form">
      <select class="grow" value=${sku} onChange=${(e) => setSku(e.target.value)} aria-label=${t.sku}>
        ${skus.map((code) => html`<option value=${code}>${code}</option>`)}</select>
      <input type="number" min="1" max="10000" inputmode="numeric" style="width:5.5rem" value=${quantity}
        onInput=${(e) => setQuantity(e.target.value)} aria-label=${t.quantity} />
      <button class="btn primary" type="submit">${t.record}</button></form>` : null}
  </section>`;
}

function Notes({ t, lang, task }) {
  const [text, setText] = useState("");
  const add = (event) => {
    event.preventDefault();
    if (!text.trim()) return;
    data.mutate("add_note", { task_id: task.id, text: text.trim() });
    setText("");
  };
  return html`<section class="card"><h2>${t.notes}</h2>
    ${(task.notes || []).map((note) => html`<p data-testid="note">${note.text}
      <span class="muted"> — ${note.by} ${note.at ? formatTime(note.at, lang) : t.waiting}</span></p>`)}
    <form onSubmit=${add} class="row"><textarea class="grow" name="note" placeholder=${t.notePlaceholder} value=${text}
      onInput=${(e) => setText(e.target.value)}></textarea>
      <button class="btn" type="submit">${t.addNote}</button></form>
  </section>`;
}

function Photo({ sha256, pending, t }) {
  const [url, setUrl] = useState(null);
  useEffect(() => {
    let alive = true, made = null;
    data.photoUrl(sha256).then((value) => { made = value; if (alive) setUrl(value); }).catch(() => {});
    return () => { alive = false; if (made) URL.revokeObjectURL(made); };
  }, [sha256]);
  return url ? html`<img src=${url} alt="" data-testid="photo" data-sha=${sha256} data-pending=${String(!!pending)} />`
    : html`<span class="ph" data-testid="photo" data-sha=${sha256}>${pending ? t.uploadWaiting : "…"}</span>`;
}

function Photos({ t, task, working }) {
  const onFile = async (event) => {
    const files = [...event.target.files];
    event.target.value = "";
    for (const file of files) await data.addPhoto(task.id, file);
  };
  if (!working && !(task.photos || []).length) return null;
  return html`<section class="card"><h2>${t.photos} (${(task.photos || []).length})</h2>
    <div class="photos">${(task.photos || []).map((p) => html`<${Photo} key=${p.sha256} sha256=${p.sha256} pending=${!p.at} t=${t} />`)}</div>
    ${working ? html`<label class="btn block file-btn" style="margin-top:.5rem">${t.takePhoto}
      <input type="file" accept="image/*" capture="environment" data-testid="photo-input" onChange=${onFile} /></label>` : null}
  </section>`;
}

function SubmitForm({ t, task, featured }) {
  const proof = task.proof || {};
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const args = { task_id: task.id };
    if (proof.quantity) args.quantity = Number.parseInt(form.get("quantity"), 10) || 0;
    if (proof.observed_price) {
      args.observed_prices = {};
      for (const sku of featured) {
        const value = Number.parseFloat(form.get("price-" + sku));
        if (Number.isFinite(value)) args.observed_prices[sku] = value;
      }
    }
    data.mutate("submit_task", args);
  };
  return html`<form class="card" onSubmit=${submit} data-testid="submit-form">
    ${proof.quantity ? html`<label class="field">${t.submitQuantity}<input type="number" name="quantity" min="0" inputmode="numeric" required /></label>` : null}
    ${proof.observed_price ? featured.map((sku) => html`<label class="field">${t.observedPrice} ${sku}
      <input type="number" name=${"price-" + sku} step="0.01" min="0" inputmode="decimal" required /></label>`) : null}
    <button class="btn primary block" type="submit" data-testid="submit" style="margin-top:.5rem">${t.submit}</button>
  </form>`;
}

function Recommendation({ t, rec, state }) {
  const given = state.feedback[rec.script?.id];
  return html`<div data-testid="recommendation" data-sku=${rec.sku}>
    <p class="title">${rec.name} <span class="muted">${rec.sku}</span></p>
    ${rec.pairings?.length ? html`<div class="muted">${t.pairings}: ${rec.pairings.map((p) => p.name || p.sku).join(" · ")}</div>` : null}
    ${rec.script ? html`<p class="script">${rec.script.text}</p>
      ${given ? html`<p class="muted" data-testid="feedback-given">${t.thanks} (${t[given]})</p>` : html`<div class="feedback">
        ${["used", "converted", "dismissed"].map((outcome) => html`<button class="btn" type="button" data-outcome=${outcome}
          onClick=${() => data.scriptFeedback(rec.script.id, outcome)}>${t[outcome]}</button>`)}</div>`}` : null}
  </div>`;
}

function Tips({ t, state }) {
  const bySku = new Map();
  for (const task of state.tasks) {
    if (["approved", "cancelled"].includes(task.status)) continue;
    for (const rec of task.recommendations || []) if (!bySku.has(rec.sku)) bySku.set(rec.sku, rec);
  }
  if (!bySku.size) return html`<p class="notice">${t.noTips}</p>`;
  return html`<div class="list">${[...bySku.values()].map((rec) => html`<section class="card" key=${rec.sku}>
    <${Recommendation} t=${t} rec=${rec} state=${state} /></section>`)}</div>`;
}

function Inbox({ t, lang, state }) {
  const list = [...state.notifications].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  if (!list.length) return html`<p class="notice">${t.noNotifications}</p>`;
  const open = (note) => {
    if (!note.read_at) data.mutate("mark_read", { notification_id: note.id });
    const match = /^zhida:\/\/tasks\/(\d+)/.exec(note.deep_link || "");
    if (match || note.task_id) location.hash = `#/task/${match ? match[1] : note.task_id}`;
  };
  return html`<div class="list">${list.map((note) => html`<button type="button" key=${note.id}
      class=${"card" + (note.read_at ? "" : " unread")} style="text-align:left" data-testid="notification"
      data-task-id=${note.task_id} onClick=${() => open(note)}>
    <p class="title">${note.title} ${note.read_at ? null : html`<span class="badge open">${t.unread}</span>`}</p>
    <div>${note.body}</div>
    <div class="meta">${formatTime(note.created_at, lang)}</div></button>`)}</div>`;
}

function Scan({ t, lang, state }) {
  const video = useRef(null);
  const [cameraError, setCameraError] = useState(null);
  const [message, setMessage] = useState(null);
  const [code, setCode] = useState("");
  const [scanning, setScanning] = useState(false);
  const claim = async (text) => {
    const outcome = await data.claim(text);
    if (outcome.invalid) {
      setMessage(t.errors.invalid_qr);
      return;
    }
    setMessage(outcome.queued ? t.claimQueued : t.claimSent);
    if (outcome.taskId) location.hash = `#/task/${outcome.taskId}`;
  };
  useEffect(() => {
    let stop = null, alive = true;
    if (!navigator.mediaDevices?.getUserMedia) {
      setCameraError(t.cameraOff);
      return undefined;
    }
    setScanning(true);
    import("./scanner.js")
      .then(({ startScanning }) => startScanning(video.current, (text) => { if (alive) claim(text.trim()); }))
      .then((stopper) => { stop = stopper; if (!alive) stopper(); })
      .catch((error) => { console.warn(error); if (alive) { setCameraError(t.cameraOff); setScanning(false); } });
    return () => { alive = false; if (stop) stop(); };
  }, []);
  const typed = (event) => {
    event.preventDefault();
    if (code.trim()) claim(code.trim());
  };
  return html`<section class="card"><h2>${t.scanTitle}</h2>
      ${cameraError ? html`<p class="notice warn">${cameraError}</p>`
        : html`<video class="camera" ref=${video} muted playsinline data-testid="camera" data-scanning=${String(scanning)}></video>
          <p class="muted">${t.scanHint}</p>`}
    </section>
    ${message ? html`<p class="notice" data-testid="scan-message">${message}</p>` : null}
    <form class="card" onSubmit=${typed}><label class="field">${t.typeCode}
      <div class="row"><input class="grow" type="text" name="code" autocapitalize="characters" autocomplete="off"
        placeholder=${t.codePlaceholder} value=${code} onInput=${(e) => setCode(e.target.value)} data-testid="code-input" />
      <button class="btn primary" type="submit" data-testid="claim-code">${t.claim}</button></div></label></form>
    <${Rejections} t=${t} lang=${lang} state=${state} />`;
}

render(html`<${App} />`, document.getElementById("app"));
data.start();
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("./sw.js", { scope: "./" }).catch((error) => console.warn("service worker", error));
}
