// DutyBot sandbox: a small chat client over the sandbox API. Cards are rendered from their
// Card JSON 2.0; clicks and form submits go back as Feishu card callbacks.
"use strict";

const state = { me: null, chat: null, members: [], teamChat: null, rendered: new Map(), busy: false };
const $ = (id) => document.getElementById(id);

function esc(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

async function api(path, body) {
  const res = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(await res.text());
  return res.json();
}

function toast(t) {
  if (!t) return;
  const el = $("toast");
  const text = (t.i18n && (t.i18n.zh_cn || t.i18n.en_us)) || t.content || "";
  el.textContent = text;
  el.className = "toast show " + (t.type || "info");
  el.dataset.type = t.type || "info";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.className = "toast"; }, 3500);
}

function memberName(openId) {
  const m = state.members.find((x) => x.open_id === openId);
  return m ? m.name : openId;
}

// ---- Feishu card markdown (the subset our cards use), rendered safely -----------------
// The content is markup written by the bot: user text inside it is already escaped, so
// entities stay entities and only known tags become elements.
function inline(text) {
  let out = "";
  let i = 0;
  const open = { b: false, i: false, s: false };
  while (i < text.length) {
    const rest = text.slice(i);
    let m;
    if (rest[0] === "\\" && i + 1 < text.length) { out += esc(text[i + 1]); i += 2; continue; }
    if (rest.startsWith("**")) { out += open.b ? "</b>" : "<b>"; open.b = !open.b; i += 2; continue; }
    if (rest.startsWith("~~")) { out += open.s ? "</s>" : "<s>"; open.s = !open.s; i += 2; continue; }
    if (rest[0] === "*") { out += open.i ? "</i>" : "<i>"; open.i = !open.i; i += 1; continue; }
    if ((m = rest.match(/^<font color=['"]?([a-z-]+)['"]?>/i))) { out += `<span style="color:${cssColor(m[1])}">`; i += m[0].length; continue; }
    if ((m = rest.match(/^<\/font>/i))) { out += "</span>"; i += m[0].length; continue; }
    if ((m = rest.match(/^<at (?:id|user_id)=['"]?([\w-]+)['"]?><\/at>/i))) { out += `<span class="person">@${esc(memberName(m[1]))}</span>`; i += m[0].length; continue; }
    if ((m = rest.match(/^<text_tag color=['"]?([a-z-]+)['"]?>(.*?)<\/text_tag>/i))) { out += `<span class="text-tag">${esc(m[2])}</span>`; i += m[0].length; continue; }
    if ((m = rest.match(/^\[([^\]]*)\]\((https?:\/\/[^)\s]+)\)/))) { out += `<a href="${esc(m[2])}" target="_blank" rel="noopener">${esc(m[1])}</a>`; i += m[0].length; continue; }
    if ((m = rest.match(/^&(#\d+|#x[0-9a-f]+|[a-z]+);/i))) { out += m[0]; i += m[0].length; continue; }
    out += esc(rest[0]);
    i += 1;
  }
  if (open.i) out += "</i>";
  if (open.s) out += "</s>";
  if (open.b) out += "</b>";
  return out;
}

function cssColor(name) {
  const map = { red: "#f54a45", green: "#34c724", orange: "#ff8800", grey: "#8f959e", gray: "#8f959e", blue: "#3370ff",
    yellow: "#d4a700", purple: "#7f3bf5", wathet: "#4fa8f8", turquoise: "#14b8a6", violet: "#a45eef", indigo: "#4954e6", carmine: "#d83931" };
  return map[name] || "inherit";
}

function markdown(content) {
  const lines = String(content || "").split("\n");
  let html = "";
  let list = false;
  for (const line of lines) {
    const bullet = line.match(/^\s*[-*] (.*)$/);
    if (bullet) {
      if (!list) { html += "<ul>"; list = true; }
      html += `<li>${inline(bullet[1])}</li>`;
      continue;
    }
    if (list) { html += "</ul>"; list = false; }
    const heading = line.match(/^(#{1,4}) (.*)$/);
    html += heading ? `<div><b>${inline(heading[2])}</b></div>` : `<div>${inline(line) || "&nbsp;"}</div>`;
  }
  if (list) html += "</ul>";
  return html;
}

function textOf(t) {
  if (!t) return "";
  if (typeof t === "string") return esc(t);
  if (t.tag === "lark_md") return markdown(t.content);
  return esc(t.content || "").replace(/\n/g, "<br>");
}

// ---- elements ----------------------------------------------------------------------------
function render(el, ctx) {
  const node = document.createElement("div");
  switch (el.tag) {
    case "markdown":
      node.className = "md" + (el.text_size === "notation" ? " notation" : "");
      node.innerHTML = markdown(el.content);
      return node;
    case "div": {
      node.className = "md" + (el.text && el.text.text_size === "notation" ? " notation" : "");
      if (el.text) node.innerHTML = textOf(el.text);
      if (el.fields) {
        const grid = document.createElement("div");
        grid.className = "fields";
        for (const f of el.fields) {
          const cell = document.createElement("div");
          if (!f.is_short) cell.className = "long";
          cell.innerHTML = textOf(f.text);
          grid.appendChild(cell);
        }
        node.appendChild(grid);
      }
      return node;
    }
    case "hr": { const hr = document.createElement("hr"); hr.className = "card-hr"; return hr; }
    case "column_set": {
      node.className = "columns";
      for (const col of el.columns || []) {
        const c = document.createElement("div");
        c.className = "column";
        c.style.flex = col.weight || 1;
        for (const child of col.elements || []) c.appendChild(render(child, ctx));
        node.appendChild(c);
      }
      return node;
    }
    case "collapsible_panel": {
      const d = document.createElement("details");
      d.className = "panel";
      if (el.expanded) d.open = true;
      const s = document.createElement("summary");
      s.innerHTML = el.header && el.header.title ? textOf(el.header.title) : "…";
      d.appendChild(s);
      for (const child of el.elements || []) d.appendChild(render(child, ctx));
      return d;
    }
    case "interactive_container":
      for (const child of el.elements || []) node.appendChild(render(child, ctx));
      return node;
    case "person": {
      node.innerHTML = `<span class="person">👤 ${esc(memberName(el.user_id))}</span>`;
      return node;
    }
    case "person_list":
      node.innerHTML = (el.persons || []).map((p) => `<span class="person">👤 ${esc(memberName(p.id))}</span>`).join(" ");
      return node;
    case "img":
      node.innerHTML = `<div class="text-tag">[image]</div>`;
      return node;
    case "table": {
      const cols = el.columns || [];
      const rows = el.rows || [];
      node.innerHTML = `<table class="card-table"><tr>${cols.map((c) => `<th>${esc(c.display_name || c.name)}</th>`).join("")}</tr>` +
        rows.map((r) => `<tr>${cols.map((c) => `<td>${esc(r[c.name] ?? "")}</td>`).join("")}</tr>`).join("") + "</table>";
      return node;
    }
    case "button": return button(el, ctx);
    case "form": return form(el, ctx);
    case "input": case "select_static": case "multi_select_static": case "date_picker":
    case "select_person": case "multi_select_person": case "picker_time": case "picker_datetime": case "checker":
      return field(el);
    default:
      node.className = "text-tag";
      node.textContent = `[${el.tag}]`;
      return node;
  }
}

function button(el, ctx) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "btn-" + (el.type || "default");
  b.innerHTML = textOf(el.text);
  if (el.disabled) b.disabled = true;
  const callback = (el.behaviors || []).find((x) => x.type === "callback");
  const url = (el.behaviors || []).find((x) => x.type === "open_url");
  b.addEventListener("click", async () => {
    if (el.confirm && !window.confirm(((el.confirm.title || {}).content || "") + "\n" + ((el.confirm.text || {}).content || ""))) return;
    if (url) { window.open(url.default_url, "_blank", "noopener"); return; }
    if (el.form_action_type === "reset" && ctx.form) { ctx.form.reset(); return; }
    let formValue;
    if (el.form_action_type === "submit" && ctx.form) {
      formValue = collect(ctx.form);
      if (formValue === null) { toast({ type: "error", content: "请填写必填项 / Fill in the required fields" }); return; }
    }
    const value = callback ? callback.value : (el.value || {});
    b.disabled = true;
    try {
      const res = await api("/sandbox/api/click", { as: state.me, message_id: ctx.messageId, value, form_value: formValue, name: el.name || "" });
      toast(res.toast);
      await refresh(true);
    } catch (err) {
      toast({ type: "error", content: String(err.message || err) });
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

function form(el, ctx) {
  const f = document.createElement("form");
  f.className = "form";
  f.addEventListener("submit", (e) => e.preventDefault());
  const inner = { ...ctx, form: f };
  for (const child of el.elements || []) f.appendChild(render(child, inner));
  return f;
}

function placeholder(el) { return el.placeholder ? (el.placeholder.content || "") : ""; }

function field(el) {
  const wrap = document.createElement("div");
  wrap.className = "field";
  wrap.dataset.name = el.name || "";
  wrap.dataset.tag = el.tag;
  if (el.required) wrap.dataset.required = "1";
  const label = el.label ? textOf(el.label) : "";
  if (label) wrap.innerHTML = `<label>${label}${el.required ? ' <span class="required">*</span>' : ""}</label>`;
  let input;
  if (el.tag === "input") {
    input = document.createElement(el.input_type === "multiline_text" || (el.rows && el.rows > 1) ? "textarea" : "input");
    if (input.tagName === "TEXTAREA") input.rows = el.rows || 3;
    if (el.max_length) input.maxLength = el.max_length;
    input.value = el.default_value || "";
  } else if (el.tag === "select_static" || el.tag === "multi_select_static" || el.tag === "select_person" || el.tag === "multi_select_person") {
    input = document.createElement("select");
    if (el.tag.startsWith("multi")) input.multiple = true;
    const options = el.tag.endsWith("person")
      ? (el.options && el.options.length ? el.options.map((o) => ({ value: o.value, text: memberName(o.value) })) : state.members.map((m) => ({ value: m.open_id, text: m.name })))
      : (el.options || []).map((o) => ({ value: o.value, text: (o.text && o.text.content) || o.value }));
    input.innerHTML = (input.multiple ? "" : `<option value="">${esc(placeholder(el) || "—")}</option>`) +
      options.map((o) => `<option value="${esc(o.value)}">${esc(o.text)}</option>`).join("");
    if (el.initial_option) input.value = el.initial_option;
  } else if (el.tag === "date_picker") {
    input = document.createElement("input");
    input.type = "date";
    if (el.initial_date) input.value = el.initial_date;
  } else if (el.tag === "checker") {
    input = document.createElement("input");
    input.type = "checkbox";
    input.checked = !!el.checked;
  } else {
    input = document.createElement("input");
    input.type = el.tag === "picker_time" ? "time" : "datetime-local";
  }
  input.name = el.name || "";
  if (placeholder(el) && "placeholder" in input) input.placeholder = placeholder(el);
  input.setAttribute("aria-label", (el.label && el.label.content) || placeholder(el) || el.name || el.tag);
  wrap.appendChild(input);
  return wrap;
}

// Build form_value the way Feishu does; null when a required field is empty.
function collect(formEl) {
  const out = {};
  let ok = true;
  for (const wrap of formEl.querySelectorAll(".field")) {
    const input = wrap.querySelector("input, select, textarea");
    const name = wrap.dataset.name;
    let value;
    if (wrap.dataset.tag === "date_picker") value = input.value ? `${input.value} +0800` : "";
    else if (input.type === "checkbox") value = input.checked;
    else if (input.multiple) value = [...input.selectedOptions].map((o) => o.value);
    else value = input.value;
    const empty = value === "" || (Array.isArray(value) && !value.length);
    wrap.classList.toggle("invalid", !!wrap.dataset.required && empty);
    if (wrap.dataset.required && empty) ok = false;
    if (!empty && name) out[name] = value;
  }
  return ok ? out : null;
}

function renderCard(card, messageId) {
  const root = document.createElement("div");
  root.className = "card";
  if (card.header) {
    const h = document.createElement("div");
    h.className = "card-header tpl-" + (card.header.template || "default");
    const tags = (card.header.text_tag_list || []).map((t) => `<span class="tag">${esc((t.text || {}).content || "")}</span>`).join("");
    h.innerHTML = `<div class="title">${textOf(card.header.title)}</div>` +
      (card.header.subtitle ? `<div class="subtitle">${textOf(card.header.subtitle)}</div>` : "") +
      (tags ? `<div class="tags">${tags}</div>` : "");
    root.appendChild(h);
  }
  const body = document.createElement("div");
  body.className = "card-body";
  const elements = (card.body && card.body.elements) || card.elements || [];
  for (const el of elements) body.appendChild(render(el, { messageId }));
  root.appendChild(body);
  return root;
}

// ---- the chat ----------------------------------------------------------------------------
function renderMessage(m) {
  const row = document.createElement("div");
  row.className = "msg " + (m.from === "user" ? "user" : "bot");
  row.dataset.id = m.id;
  const name = m.from === "user" ? m.sender_name : "DutyBot";
  row.innerHTML = `<div class="avatar">${esc(name.slice(0, 1))}</div><div class="bubble-wrap"><div class="sender">${esc(name)}</div></div>`;
  const wrap = row.querySelector(".bubble-wrap");
  if (m.type === "interactive" && m.card) {
    wrap.appendChild(renderCard(m.card, m.id));
  } else {
    const b = document.createElement("div");
    b.className = "bubble";
    b.textContent = m.text || `[${m.type}]`;
    wrap.appendChild(b);
  }
  return row;
}

async function refresh(force) {
  if (!state.chat || (state.busy && !force)) return;
  state.busy = true;
  try {
    const { items } = await api(`/sandbox/api/messages?chat=${encodeURIComponent(state.chat)}`);
    const box = $("messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    let changed = false;
    for (const m of items) {
      const key = `${m.id}:${m.version}`;
      const old = state.rendered.get(m.id);
      if (old && old.key === key) continue;
      const node = renderMessage(m);
      if (old) box.replaceChild(node, old.node); else box.appendChild(node);
      state.rendered.set(m.id, { key, node });
      changed = true;
    }
    if (changed && atBottom) box.scrollTop = box.scrollHeight;
  } finally {
    state.busy = false;
  }
}

function chats() {
  return [
    { id: `oc_p2p_${state.me}`, name: "与 DutyBot 私聊 · Private chat" },
    { id: state.teamChat.chat_id, name: `${state.teamChat.name}（群）` },
  ];
}

function selectChat(id) {
  state.chat = id;
  state.rendered.clear();
  $("messages").innerHTML = "";
  for (const el of document.querySelectorAll(".chat-item")) el.classList.toggle("active", el.dataset.chat === id);
  const chat = chats().find((c) => c.id === id);
  $("chat-title").textContent = chat ? chat.name : id;
  refresh(true);
}

function renderChats() {
  const nav = $("chats");
  nav.innerHTML = "";
  for (const c of chats()) {
    const item = document.createElement("div");
    item.className = "chat-item";
    item.dataset.chat = c.id;
    item.textContent = c.name;
    item.addEventListener("click", () => selectChat(c.id));
    nav.appendChild(item);
  }
}

async function init() {
  const s = await api("/sandbox/api/state");
  state.members = s.members;
  state.teamChat = s.team_chat;
  $("now").textContent = s.now.replace("T", " ");
  const who = $("who");
  who.innerHTML = s.members.map((m) => `<option value="${esc(m.open_id)}">${esc(m.name)} · ${esc(m.role)}</option>`).join("");
  state.me = s.members[1] ? s.members[1].open_id : s.members[0].open_id;
  who.value = state.me;
  who.addEventListener("change", () => { state.me = who.value; renderChats(); selectChat(`oc_p2p_${state.me}`); });
  renderChats();
  selectChat(`oc_p2p_${state.me}`);
  $("composer").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("text").value.trim();
    if (!text) return;
    $("text").value = "";
    await api("/sandbox/api/say", { as: state.me, chat: state.chat, text });
    await refresh(true);
  });
  for (const b of document.querySelectorAll(".clock-btn")) {
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        const r = await api("/sandbox/api/clock", { step: b.dataset.step });
        $("now").textContent = r.now.replace("T", " ");
        await refresh(true);
      } finally { b.disabled = false; }
    });
  }
  setInterval(() => refresh(false), 800);
}

init().catch((err) => toast({ type: "error", content: String(err) }));
