// The KPI dashboard (ops/admin): asks for the admin token, keeps it in sessionStorage for this tab
// only, and sends it as a Bearer header with every API call. Everything a customer wrote is put in
// the page with textContent, never parsed as HTML.
(() => {
  "use strict";

  const TOKEN_KEY = "unisono.admin.token";
  const LANG_KEY = "unisono.admin.lang";
  const CHANNELS = ["whatsapp", "telegram", "webchat", "all"];
  const COLORS = { whatsapp: "#25a244", telegram: "#2b8fd6", webchat: "#8250df", all: "#57606a" };
  const TEXT = {
    es: {
      title: "Indicadores del servicio", token_label: "Token de administración", sign_in: "Entrar",
      sign_out: "Salir", token_refused: "Token no válido.", since: "Desde", until: "Hasta",
      business_hours: "Solo horario de atención", show: "Mostrar", csv: "Descargar CSV",
      by_channel: "Por canal", chart_daily: "Conversaciones por día y canal",
      chart_rates: "Contención y derivación a asesor", chart_times: "Primera respuesta y resolución (p50 y p90)",
      chart_csat: "Satisfacción (CSAT)", open_title: "Derivaciones y tickets abiertos por tiempo restante de SLA",
      open_empty: "Nada abierto.", missed_title: "Mensajes que el asistente no entendió",
      missed_empty: "Ninguno en este periodo.", loading: "Cargando…", updated: "Actualizado",
      failed: "No se pudieron cargar los datos", metric: "Indicador",
      whatsapp: "WhatsApp", telegram: "Telegram", webchat: "Chat web", all: "Todos",
      sessions: "Sesiones", contained: "Resueltas por el asistente", containment_rate: "Tasa de contención",
      handoffs: "Derivaciones a asesor", handoff_rate: "Tasa de derivación", abandoned: "Derivaciones sin respuesta",
      first_response_bot_p50: "1.ª respuesta del asistente (p50)", first_response_bot_p90: "1.ª respuesta del asistente (p90)",
      first_response_human_p50: "1.ª respuesta de asesor (p50)", first_response_human_p90: "1.ª respuesta de asesor (p90)",
      resolution_p50: "Resolución (p50)", resolution_p90: "Resolución (p90)", csat_sent: "Encuestas enviadas",
      csat_responses: "Encuestas respondidas", csat_mean: "CSAT promedio", csat_score: "CSAT (% de 4 y 5)",
      fallback_rate: "Mensajes no entendidos", sla_warned: "Avisos de SLA", sla_breached: "SLA incumplidos",
      notices_sent: "Avisos de pedido enviados", notices_delivered: "Avisos de pedido entregados",
      notices_read: "Avisos de pedido leídos", notices_refused: "Avisos de pedido rechazados",
      notices_opted_out: "Bajas de avisos",
      bot: "Asistente", human: "Asesor", resolution: "Resolución", p50: "p50", p90: "p90",
      kind: "Tipo", ref: "Referencia", channel: "Canal", due: "Vence", left: "Tiempo restante", level: "Estado",
      handoff: "Derivación", ticket: "Ticket", ok: "en tiempo", warned: "por vencer", breached: "vencido",
      overdue: "vencido hace", times: "veces", rating: "Calificación", answers: "respuestas",
    },
    en: {
      title: "Service KPIs", token_label: "Admin token", sign_in: "Sign in", sign_out: "Sign out",
      token_refused: "Token refused.", since: "From", until: "To", business_hours: "Business hours only",
      show: "Show", csv: "Download CSV", by_channel: "By channel", chart_daily: "Conversations per day and channel",
      chart_rates: "Containment and hand-off rates", chart_times: "First response and resolution (p50 and p90)",
      chart_csat: "Satisfaction (CSAT)", open_title: "Open hand-offs and tickets by time left to their SLA",
      open_empty: "Nothing open.", missed_title: "Messages the assistant did not understand",
      missed_empty: "None in this period.", loading: "Loading…", updated: "Updated",
      failed: "Could not load the figures", metric: "Metric",
      whatsapp: "WhatsApp", telegram: "Telegram", webchat: "Web chat", all: "All",
      sessions: "Sessions", contained: "Handled by the assistant", containment_rate: "Containment rate",
      handoffs: "Hand-offs", handoff_rate: "Hand-off rate", abandoned: "Hand-offs never answered",
      first_response_bot_p50: "Assistant first response (p50)", first_response_bot_p90: "Assistant first response (p90)",
      first_response_human_p50: "Agent first response (p50)", first_response_human_p90: "Agent first response (p90)",
      resolution_p50: "Resolution (p50)", resolution_p90: "Resolution (p90)", csat_sent: "Surveys sent",
      csat_responses: "Surveys answered", csat_mean: "Mean CSAT", csat_score: "CSAT (% of 4 and 5)",
      fallback_rate: "Messages not understood", sla_warned: "SLA warnings", sla_breached: "SLA breaches",
      notices_sent: "Order notices sent", notices_delivered: "Order notices delivered",
      notices_read: "Order notices read", notices_refused: "Order notices refused",
      notices_opted_out: "Notice opt-outs",
      bot: "Assistant", human: "Agent", resolution: "Resolution", p50: "p50", p90: "p90",
      kind: "Kind", ref: "Reference", channel: "Channel", due: "Due", left: "Time left", level: "State",
      handoff: "Hand-off", ticket: "Ticket", ok: "on time", warned: "due soon", breached: "breached",
      overdue: "overdue by", times: "times", rating: "Rating", answers: "answers",
    },
  };

  const $ = (id) => document.getElementById(id);
  let lang = "es";
  let last = null;
  let lastOpen = null;
  const charts = {};

  const t = (key) => TEXT[lang][key] || key;
  const locale = () => (lang === "es" ? "es-MX" : "en-US");
  const token = () => sessionStorage.getItem(TOKEN_KEY);

  function el(tag, text, attributes) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  }

  // -- formatting ------------------------------------------------------------------------------
  const count = (n) => new Intl.NumberFormat(locale()).format(n);
  const percent = (rate) => (rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)} %`);
  const decimal = (n) => (n === null || n === undefined ? "—" : n.toFixed(2));
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.abs(seconds);
    if (s < 60) return `${s.toFixed(1)} s`;
    if (s < 3600) {
      const whole = Math.round(s);
      return `${Math.floor(whole / 60)} min ${whole % 60} s`;
    }
    const minutes = Math.round(s / 60);
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  const METRICS = [
    ["sessions", (k) => count(k.sessions)],
    ["contained", (k) => count(k.contained)],
    ["containment_rate", (k) => percent(k.containment_rate)],
    ["handoffs", (k) => count(k.handoffs)],
    ["handoff_rate", (k) => percent(k.handoff_rate)],
    ["abandoned", (k) => count(k.abandoned)],
    ["first_response_bot_p50", (k) => duration(k.first_response_bot_s.p50)],
    ["first_response_bot_p90", (k) => duration(k.first_response_bot_s.p90)],
    ["first_response_human_p50", (k) => duration(k.first_response_human_s.p50)],
    ["first_response_human_p90", (k) => duration(k.first_response_human_s.p90)],
    ["resolution_p50", (k) => duration(k.resolution_s.p50)],
    ["resolution_p90", (k) => duration(k.resolution_s.p90)],
    ["csat_sent", (k) => count(k.csat.sent)],
    ["csat_responses", (k) => count(k.csat.responses)],
    ["csat_mean", (k) => decimal(k.csat.mean)],
    ["csat_score", (k) => (k.csat.score === null ? "—" : `${k.csat.score.toFixed(1)} %`)],
    ["fallback_rate", (k) => percent(k.fallback_rate)],
    ["sla_warned", (k) => count(k.sla.warned)],
    ["sla_breached", (k) => count(k.sla.breached)],
    ["notices_sent", (k) => count(k.notices.sent)],
    ["notices_delivered", (k) => count(k.notices.delivered)],
    ["notices_read", (k) => count(k.notices.read)],
    ["notices_refused", (k) => count(k.notices.refused)],
    ["notices_opted_out", (k) => count(k.notices.opted_out)],
  ];
  const CARDS = ["sessions", "containment_rate", "handoff_rate", "abandoned", "first_response_bot_p50",
                 "first_response_human_p50", "resolution_p50", "csat_score", "fallback_rate", "sla_breached"];

  // -- the API ---------------------------------------------------------------------------------
  async function api(path, options) {
    const response = await fetch(path, { ...(options || {}), cache: "no-store",
                                         headers: { Authorization: `Bearer ${token()}` } });
    if (response.status === 401) {
      signOut(t("token_refused"));
      throw new Error("unauthorized");
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.message || `HTTP ${response.status}`);
    }
    return response;
  }

  function dateText(date) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  }

  function query() {
    const until = new Date(`${$("until").value}T00:00:00`);
    until.setDate(until.getDate() + 1); // the "to" day is included
    const params = new URLSearchParams({ since: $("since").value, until: dateText(until),
                                         business_hours: $("business-hours").checked ? "1" : "0" });
    return params.toString();
  }

  async function load() {
    $("error").hidden = true;
    $("status").textContent = t("loading");
    try {
      const [figures, open] = await Promise.all([
        api(`/admin/api/kpis?${query()}`).then((r) => r.json()),
        api("/admin/api/open").then((r) => r.json()),
      ]);
      last = figures;
      lastOpen = open;
      render();
      $("status").textContent = `${t("updated")} ${new Date().toLocaleTimeString(locale())}`;
      document.body.dataset.loaded = "true";
    } catch (error) {
      if (error.message === "unauthorized") return;
      $("status").textContent = "";
      $("error").textContent = `${t("failed")}: ${error.message}`;
      $("error").hidden = false;
    }
  }

  async function downloadCsv() {
    const response = await api(`/admin/api/kpis.csv?${query()}`);
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", null, { href: url, download: `kpis-${$("since").value}-${$("until").value}.csv` });
    document.body.appendChild(link);
    link.click();
    link.remove();
    URL.revokeObjectURL(url);
  }

  // -- rendering -------------------------------------------------------------------------------
  function render() {
    if (!last) return;
    renderCards(last.channels.all);
    renderTable(last.channels);
    renderCharts(last);
    renderOpen(lastOpen ? lastOpen.items : []);
    renderMissed(last.channels.all.not_understood);
  }

  function renderCards(all) {
    const cards = $("cards");
    cards.replaceChildren();
    for (const key of CARDS) {
      const format = METRICS.find(([name]) => name === key)[1];
      const card = el("div", null, { class: "card" });
      card.append(el("div", t(key), { class: "label" }), el("div", format(all), { class: "value", "data-card": key }));
      cards.append(card);
    }
  }

  function renderTable(channels) {
    const head = el("tr");
    head.append(el("th", t("metric")), ...CHANNELS.map((c) => el("th", t(c))));
    $("table").tHead.replaceChildren(head);
    const rows = METRICS.map(([key, format]) => {
      const row = el("tr");
      row.append(el("th", t(key)), ...CHANNELS.map((c) => el("td", format(channels[c]), { "data-kpi": `${c}.${key}` })));
      return row;
    });
    $("table").tBodies[0].replaceChildren(...rows);
  }

  function chart(id, config) {
    if (charts[id]) charts[id].destroy();
    config.options = { animation: false, responsive: true, maintainAspectRatio: true, ...(config.options || {}) };
    charts[id] = new window.Chart($(id), config);
  }

  function renderCharts(result) {
    const channels = CHANNELS.slice(0, 3);
    chart("chart-daily", { type: "bar", data: { labels: result.daily.map((d) => d.day),
      datasets: channels.map((c) => ({ label: t(c), data: result.daily.map((d) => d[c]), backgroundColor: COLORS[c] })) },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } } });
    chart("chart-rates", { type: "bar", data: { labels: CHANNELS.map(t), datasets: [
      { label: t("containment_rate"), data: CHANNELS.map((c) => 100 * result.channels[c].containment_rate), backgroundColor: "#1a7f37" },
      { label: t("handoff_rate"), data: CHANNELS.map((c) => 100 * result.channels[c].handoff_rate), backgroundColor: "#bf8700" }] },
      options: { scales: { y: { beginAtZero: true, suggestedMax: 100, title: { display: true, text: "%" } } } } });
    const kinds = [["bot", "first_response_bot_s"], ["human", "first_response_human_s"], ["resolution", "resolution_s"]];
    const all = result.channels.all;
    chart("chart-times", { type: "bar", data: { labels: kinds.map(([label]) => t(label)), datasets: ["p50", "p90"].map((p, i) => ({
      label: t(p), data: kinds.map(([, key]) => (all[key][p] === null ? 0 : all[key][p] / 60)),
      backgroundColor: i ? "#8c959f" : "#1f6feb" })) },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: "min" } } } } });
    chart("chart-csat", { type: "bar", data: { labels: ["1", "2", "3", "4", "5"], datasets: channels.map((c) => ({
      label: t(c), data: ["1", "2", "3", "4", "5"].map((s) => result.channels[c].csat.distribution[s]), backgroundColor: COLORS[c] })) },
      options: { scales: { x: { stacked: true, title: { display: true, text: t("rating") } },
                           y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: t("answers") } } } } });
  }

  function renderOpen(items) {
    const head = el("tr");
    head.append(...["kind", "ref", "channel", "due", "left", "level"].map((k) => el("th", t(k))));
    $("open").tHead.replaceChildren(head);
    $("open").tBodies[0].replaceChildren(...items.map((item) => {
      const row = el("tr", null, { class: `level-${item.level}` });
      const left = item.seconds_left < 0 ? `${t("overdue")} ${duration(item.seconds_left)}` : duration(item.seconds_left);
      row.append(el("td", t(item.kind)), el("td", item.ref), el("td", t(item.channel || "")),
                 el("td", new Date(item.due_at).toLocaleString(locale())), el("td", left), el("td", t(item.level)));
      return row;
    }));
    $("open").hidden = items.length === 0;
    $("open-empty").hidden = items.length > 0;
  }

  function renderMissed(messages) {
    $("missed").replaceChildren(...messages.map((m) => {
      const item = el("li");
      item.append(el("span", m.text, { class: "text" }), el("span", `× ${m.count}`, { class: "count" }));
      return item;
    }));
    $("missed-empty").hidden = messages.length > 0;
  }

  // -- language, sign-in -----------------------------------------------------------------------
  function setLanguage(chosen) {
    lang = chosen === "en" ? "en" : "es";
    localStorage.setItem(LANG_KEY, lang);
    document.documentElement.lang = lang;
    document.title = `unisono · ${t("title")}`;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const button of document.querySelectorAll("[data-lang]")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    }
    render();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("dashboard").hidden = true;
    $("sign-in").hidden = false;
    $("sign-in-error").textContent = message || "";
    $("sign-in-error").hidden = !message;
  }

  async function signIn() {
    try {
      await api("/admin/api/sign-in", { method: "POST" });
    } catch (error) {
      if (error.message !== "unauthorized") signOut(`${t("failed")}: ${error.message}`);
      return;
    }
    $("sign-in").hidden = true;
    $("dashboard").hidden = false;
    await load();
  }

  function start() {
    const stored = localStorage.getItem(LANG_KEY);
    const browser = (navigator.languages && navigator.languages[0]) || navigator.language || "es";
    setLanguage(stored || (browser.toLowerCase().startsWith("es") ? "es" : "en"));
    const today = new Date();
    const weekAgo = new Date(today);
    weekAgo.setDate(today.getDate() - 6);
    $("since").value = dateText(weekAgo);
    $("until").value = dateText(today);
    for (const button of document.querySelectorAll("[data-lang]")) {
      button.addEventListener("click", () => setLanguage(button.dataset.lang));
    }
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
      $("token").value = "";
      signIn();
    });
    $("range").addEventListener("submit", (event) => { event.preventDefault(); load(); });
    $("csv").addEventListener("click", () => downloadCsv().catch(() => {}));
    $("sign-out").addEventListener("click", () => signOut());
    if (token()) signIn(); else signOut();
  }

  start();
})();
