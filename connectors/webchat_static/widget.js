/*!
 * Unisono web chat widget: plain JavaScript, no dependencies, no build step.
 *
 * Embed:
 *   <script src="https://HOST/webhooks/webchat/widget.js" data-server="https://HOST"
 *           data-lang="es" async></script>
 *
 * Optional attributes: data-server (default: this script's origin), data-lang ("es" | "en";
 * default: the page's <html lang>, else the browser's languages), data-open="true" (open the
 * panel on load), and for a
 * logged-in user of the site, data-user-id + data-user-ts + data-user-signature (+ data-user-email,
 * data-user-name), the signature being computed by the site's server over "id|email|ts" when it
 * renders the page (the server accepts it for 10 minutes).
 *
 * The session token is sent in the Authorization header only, never in a URL: the live feed
 * (EventSource, which cannot send headers) is opened with a single-use ticket bought with it.
 *
 * The widget's own words start in that language and then follow the conversation's: once the
 * assistant knows which language the customer writes in, the server says so with each answer
 * and with the history, and the widget switches to it.
 *
 * Everything a message contains is rendered with textContent: nothing from the server or
 * the person typing is ever parsed as HTML.
 */
(function () {
  "use strict";

  if (window.Unisono && window.Unisono.version) {
    return; // embedded twice: the first copy wins
  }

  var TOKEN_KEY = "unisono.webchat.token";
  var BASE_PATH = "/webhooks/webchat";
  var MAX_TEXT = 4096;
  var SEND_ATTEMPTS = 3;

  var STRINGS = {
    es: {
      title: "Mayoreo TI",
      subtitle: "Atención a clientes",
      openChat: "Abrir el chat de Mayoreo TI",
      closeChat: "Cerrar el chat",
      panel: "Chat con Mayoreo TI",
      log: "Mensajes de la conversación",
      inputLabel: "Escribe tu mensaje",
      placeholder: "Escribe tu mensaje…",
      send: "Enviar mensaje",
      empty: "Escríbenos tu pregunta y te respondemos al momento.",
      you: "Tú",
      bot: "Mayoreo TI",
      agent: "Asesor",
      image: "Imagen",
      options: "Opciones",
      typing: "Mayoreo TI está escribiendo…",
      connecting: "Conectando…",
      reconnecting: "Se perdió la conexión; reintentando…",
      sendFailed: "No pudimos enviar tu mensaje. Inténtalo de nuevo en un momento.",
      tooLong: "Tu mensaje es demasiado largo. Divídelo en partes más cortas.",
      rejected: "No pudimos procesar tu mensaje. Revisa el texto e inténtalo de nuevo.",
      slowDown: "Estás enviando mensajes muy rápido. Espera un momento e inténtalo de nuevo.",
      unread: "mensajes nuevos"
    },
    en: {
      title: "Mayoreo TI",
      subtitle: "Customer service",
      openChat: "Open the Mayoreo TI chat",
      closeChat: "Close the chat",
      panel: "Chat with Mayoreo TI",
      log: "Conversation messages",
      inputLabel: "Type your message",
      placeholder: "Type your message…",
      send: "Send message",
      empty: "Ask us anything and we'll answer right away.",
      you: "You",
      bot: "Mayoreo TI",
      agent: "Agent",
      image: "Image",
      options: "Options",
      typing: "Mayoreo TI is typing…",
      connecting: "Connecting…",
      reconnecting: "Connection lost; retrying…",
      sendFailed: "We couldn't send your message. Please try again in a moment.",
      tooLong: "Your message is too long. Please split it into shorter parts.",
      rejected: "We couldn't process your message. Please check it and try again.",
      slowDown: "You're sending messages too quickly. Please wait a moment and try again.",
      unread: "new messages"
    }
  };

  // -- configuration ----------------------------------------------------------------------------
  function findScript() {
    if (document.currentScript) {
      return document.currentScript;
    }
    var scripts = document.querySelectorAll("script[src]");
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/widget\.js(\?|#|$)/.test(scripts[i].src)) {
        return scripts[i];
      }
    }
    return null;
  }

  var script = findScript();
  var data = (script && script.dataset) || {};

  function serverOrigin() {
    var base = data.server || (script && script.src) || window.location.href;
    try {
      var url = new URL(base, window.location.href);
      // data-server may carry a path prefix (a reverse proxy); widget.js's own URL never does.
      var path = data.server ? url.pathname.replace(/\/+$/, "") : "";
      return url.origin + path;
    } catch (e) {
      return window.location.origin;
    }
  }

  /** "es" or "en" for a language tag we speak ("es-MX", "EN_gb"), else null. */
  function supported(tag) {
    var primary = String(tag || "").trim().toLowerCase().split(/[-_]/)[0];
    return Object.prototype.hasOwnProperty.call(STRINGS, primary) ? primary : null;
  }

  /** data-lang, else the page's <html lang>, else the first of the browser's languages we speak. */
  function pickLanguage() {
    var candidates = [data.lang, document.documentElement && document.documentElement.lang];
    candidates = candidates.concat(navigator.languages ? Array.prototype.slice.call(navigator.languages) : [],
      [navigator.language]);
    for (var i = 0; i < candidates.length; i++) {
      var found = supported(candidates[i]);
      if (found) return found;
    }
    return "es";
  }

  var ENDPOINT = serverOrigin() + BASE_PATH;
  var PAGE_LANG = pickLanguage(); // the widget's language until the conversation has one
  var LANG = PAGE_LANG;
  var T = STRINGS[LANG];

  function identityFromData() {
    if (!data.userId || !data.userSignature) {
      return null;
    }
    var identity = { user_id: data.userId, ts: Number(data.userTs), signature: data.userSignature };
    if (data.userEmail) identity.email = data.userEmail;
    if (data.userName) identity.name = data.userName;
    return identity;
  }

  // -- small helpers ----------------------------------------------------------------------------
  function el(tag, className, attributes) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (attributes) {
      for (var name in attributes) {
        if (Object.prototype.hasOwnProperty.call(attributes, name)) {
          node.setAttribute(name, attributes[name]);
        }
      }
    }
    return node;
  }

  function storedToken() {
    try {
      return window.localStorage.getItem(TOKEN_KEY);
    } catch (e) {
      return null; // storage blocked (private mode, sandboxed frame): a session per page view
    }
  }

  function storeToken(value) {
    try {
      if (value) {
        window.localStorage.setItem(TOKEN_KEY, value);
      } else {
        window.localStorage.removeItem(TOKEN_KEY);
      }
    } catch (e) {
      /* storage blocked: keep the token in memory only */
    }
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // Insecure contexts lack randomUUID: an RFC 4122 v4 id from getRandomValues.
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
      hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function backoff(attempt) {
    var base = Math.min(30000, 1000 * Math.pow(2, attempt));
    return base / 2 + Math.random() * base / 2;
  }

  function HttpError(status, body, retryAfter) {
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter; // seconds, from a 429's Retry-After
  }

  function request(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (state.token && path !== "/session") headers["Authorization"] = "Bearer " + state.token;
    return fetch(ENDPOINT + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) {
          throw new HttpError(response.status, json, Number(response.headers.get("Retry-After")) || 0);
        }
        return json;
      });
    });
  }

  function safeImageUrl(value) {
    try {
      var url = new URL(String(value), ENDPOINT);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function timeOf(isoString) {
    if (!isoString) return null;
    var value = String(isoString);
    if (!/(Z|[+-]\d\d:?\d\d)$/.test(value)) value += "Z"; // the store speaks UTC
    var date = new Date(value);
    return isNaN(date.getTime()) ? null : date;
  }

  // -- state --------------------------------------------------------------------------------------
  var state = {
    token: null,
    renderedFor: null, // the session whose conversation the list shows
    identity: identityFromData(),
    ready: null, // a Promise: the session and history are loaded
    streamAfter: 0, // the last id received from history or the live feed (where a reconnect resumes)
    source: null,
    reconnectTimer: null,
    reconnectAttempt: 0,
    generation: 0, // bumps when the session changes, so stale callbacks do nothing
    inFlight: 0,
    unread: 0,
    open: false,
    notice: "", // the key in STRINGS of the notice shown, if any
    languageAt: 0 // the last message id the server's word on the conversation's language came with
  };

  // -- DOM ------------------------------------------------------------------------------------------
  var root = el("div", "unisono-root unisono-lang-" + LANG, { lang: LANG });
  root.style.visibility = "hidden"; // until widget.css arrives: no flash of unstyled chat

  var launcher = el("button", "unisono-launcher", {
    id: "unisono-launcher",
    type: "button",
    "aria-label": T.openChat,
    "aria-controls": "unisono-chat",
    "aria-expanded": "false"
  });
  launcher.appendChild(el("span", "unisono-launcher-icon", { "aria-hidden": "true" }));
  var badge = el("span", "unisono-badge", { "aria-hidden": "true" });
  badge.hidden = true;
  launcher.appendChild(badge);

  // Plain divs with roles: a host page's rules for section/header/form must not reach in.
  var panel = el("div", "unisono-panel", {
    id: "unisono-chat",
    role: "dialog",
    "aria-modal": "false",
    "aria-labelledby": "unisono-title"
  });
  panel.hidden = true;

  var header = el("div", "unisono-header");
  var heading = el("div", "unisono-heading");
  var title = el("h2", "unisono-title", { id: "unisono-title" });
  title.textContent = T.title;
  var subtitle = el("p", "unisono-subtitle");
  subtitle.textContent = T.subtitle;
  heading.appendChild(title);
  heading.appendChild(subtitle);
  var closeButton = el("button", "unisono-close", { type: "button", "aria-label": T.closeChat });
  closeButton.appendChild(el("span", "unisono-close-icon", { "aria-hidden": "true" }));
  header.appendChild(heading);
  header.appendChild(closeButton);

  var list = el("div", "unisono-messages", {
    id: "unisono-messages",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
    "aria-label": T.log,
    tabindex: "0"
  });
  var emptyHint = el("p", "unisono-empty");
  emptyHint.textContent = T.empty;
  list.appendChild(emptyHint);

  var typing = el("div", "unisono-typing", { role: "status" });
  typing.appendChild(el("span", "unisono-dots", { "aria-hidden": "true" }));
  var typingLabel = el("span", "unisono-sr-only");
  typingLabel.textContent = T.typing;
  typing.appendChild(typingLabel);
  typing.hidden = true;

  var notice = el("p", "unisono-notice", { role: "status", "aria-live": "polite" });
  notice.hidden = true;

  var form = el("form", "unisono-form", { novalidate: "" });
  var inputLabel = el("label", "unisono-sr-only", { "for": "unisono-input" });
  inputLabel.textContent = T.inputLabel;
  var input = el("textarea", "unisono-input", {
    id: "unisono-input",
    rows: "1",
    maxlength: String(MAX_TEXT),
    placeholder: T.placeholder,
    autocomplete: "off",
    enterkeyhint: "send"
  });
  var sendButton = el("button", "unisono-send", { id: "unisono-send", type: "submit", "aria-label": T.send });
  sendButton.appendChild(el("span", "unisono-send-icon", { "aria-hidden": "true" }));
  sendButton.disabled = true;
  form.appendChild(inputLabel);
  form.appendChild(input);
  form.appendChild(sendButton);

  panel.appendChild(header);
  panel.appendChild(list);
  panel.appendChild(typing);
  panel.appendChild(notice);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(launcher);

  function injectStyles() {
    var link = el("link", null, { rel: "stylesheet", href: ENDPOINT + "/widget.css" });
    var shown = false;
    function show() {
      if (!shown) {
        shown = true;
        root.style.visibility = "";
      }
    }
    link.addEventListener("load", show);
    link.addEventListener("error", show);
    setTimeout(show, 3000); // a slow stylesheet must not hide the chat for good
    (document.head || document.documentElement).appendChild(link);
  }

  // -- panel ------------------------------------------------------------------------------------
  function setOpen(open, focus) {
    state.open = open;
    panel.hidden = !open;
    root.classList.toggle("unisono-is-open", open);
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    launcher.setAttribute("aria-label", open ? T.closeChat : T.openChat);
    if (open) {
      state.unread = 0;
      updateBadge();
      scrollToEnd();
      if (focus !== false) input.focus({ preventScroll: true });
    }
  }

  function updateBadge() {
    badge.hidden = state.unread === 0;
    badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
    launcher.setAttribute(
      "aria-label",
      state.open ? T.closeChat : T.openChat + (state.unread ? " (" + state.unread + " " + T.unread + ")" : "")
    );
  }

  function scrollToEnd() {
    list.scrollTop = list.scrollHeight;
  }

  /** Shows STRINGS[key] in the widget's language (and again in a new one); "" hides it. */
  function showNotice(key) {
    state.notice = key || "";
    notice.textContent = key ? T[key] : "";
    notice.hidden = !key;
  }

  function updateTyping() {
    typing.hidden = state.inFlight === 0;
  }

  function autoGrow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 140) + "px";
  }

  function updateSendButton() {
    sendButton.disabled = input.value.trim() === "";
  }

  // -- rendering --------------------------------------------------------------------------------
  function authorLabel(message) {
    if (message.direction === "in") return T.you;
    return message.author === "agent" ? T.agent : T.bot;
  }

  function fillMessage(node, message) {
    while (node.firstChild) node.removeChild(node.firstChild);
    var who = el("span", "unisono-sr-only unisono-who");
    who.textContent = authorLabel(message) + ": ";
    node.appendChild(who);
    if (message.direction === "out" && message.author === "agent") {
      var name = el("span", "unisono-author", { "aria-hidden": "true" });
      name.textContent = T.agent;
      node.appendChild(name);
    }
    var bubble = el("div", "unisono-bubble");
    if (message.text) {
      var text = el("p", "unisono-text"); // white-space: pre-wrap shows the newlines
      text.textContent = String(message.text);
      bubble.appendChild(text);
    }
    var imageUrl = message.image ? safeImageUrl(message.image) : null;
    if (imageUrl) {
      var image = el("img", "unisono-image", { loading: "lazy", referrerpolicy: "no-referrer" });
      image.alt = T.image; // the message's text, if any, is right beside it
      image.src = imageUrl;
      bubble.appendChild(image);
    }
    if (Array.isArray(message.items) && message.items.length) {
      var items = el("ul", "unisono-items");
      message.items.forEach(function (item) {
        var li = el("li", "unisono-item");
        li.textContent = String(item);
        items.appendChild(li);
      });
      bubble.appendChild(items);
    }
    if (bubble.firstChild) node.appendChild(bubble);
    if (Array.isArray(message.buttons) && message.buttons.length) {
      var group = el("div", "unisono-buttons", { role: "group", "aria-label": T.options });
      message.buttons.forEach(function (choice) {
        var button = el("button", "unisono-btn", { type: "button" });
        button.textContent = String(choice.title || "");
        button.addEventListener("click", function () {
          disableButtons(group);
          button.classList.add("unisono-chosen");
          send(String(choice.title || ""), choice.payload ? String(choice.payload) : undefined);
        });
        group.appendChild(button);
      });
      node.appendChild(group);
    }
    // A message with nothing we can show (say, an image with an unsafe address) stays out of sight.
    node.hidden = !bubble.firstChild && !node.querySelector(".unisono-btn");
    var when = timeOf(message.created_at);
    if (when) {
      var time = el("time", "unisono-time", { datetime: when.toISOString() });
      time.textContent = clockTime(when);
      node.appendChild(time);
    }
  }

  function clockTime(date) {
    return date.toLocaleTimeString(LANG === "es" ? "es-MX" : "en-US", { hour: "2-digit", minute: "2-digit" });
  }

  function disableButtons(scope) {
    var buttons = scope.querySelectorAll(".unisono-btn");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
  }

  /** Once the customer has spoken, the options offered before are no longer the question. */
  function disableButtonsBefore(id) {
    var nodes = messageNodes();
    for (var i = 0; i < nodes.length; i++) {
      var other = nodes[i].getAttribute("data-id");
      if (other !== null && Number(other) < id) disableButtons(nodes[i]);
    }
  }

  function messageNodes() {
    return list.querySelectorAll(".unisono-msg");
  }

  function findById(id) {
    return list.querySelector('.unisono-msg[data-id="' + Number(id) + '"]');
  }

  /** Places a message with an id among the others in id order; unconfirmed sends stay last. */
  function placeById(node, id) {
    var nodes = messageNodes();
    var before = null;
    for (var i = 0; i < nodes.length; i++) {
      if (nodes[i] === node) continue;
      var other = nodes[i].getAttribute("data-id");
      if (other === null || Number(other) > id) {
        before = nodes[i];
        break;
      }
    }
    list.insertBefore(node, before);
  }

  function newMessageNode(message) {
    var node = el("div", "unisono-msg " + (message.direction === "in" ? "unisono-in" : "unisono-out"));
    node.classList.add("unisono-author-" + String(message.author || "bot").replace(/[^a-z_-]/gi, ""));
    fillMessage(node, message);
    return node;
  }

  /** Renders one stored message once, whichever way it arrives (history, live feed, reply). */
  function render(message, live) {
    if (!message || typeof message.id !== "number") return;
    if (findById(message.id)) return;
    emptyHint.hidden = true;
    var node = null;
    if (message.direction === "in") {
      node = adoptPending(message);
      disableButtonsBefore(message.id);
    }
    if (!node) {
      node = newMessageNode(message);
    } else {
      fillMessage(node, message);
    }
    node.setAttribute("data-id", String(message.id));
    placeById(node, message.id);
    if (live !== false && message.direction === "out" && !state.open) {
      state.unread += 1;
      updateBadge();
    }
    scrollToEnd();
  }

  /** The bubble shown while a message was on its way, if this stored message is that one. */
  function adoptPending(message) {
    var pending = list.querySelectorAll(".unisono-msg.unisono-pending");
    var text = String(message.text || "").trim();
    for (var i = 0; i < pending.length; i++) {
      if (pending[i].getAttribute("data-text") === text) {
        return confirmPending(pending[i]);
      }
    }
    return null;
  }

  function confirmPending(node) {
    node.classList.remove("unisono-pending", "unisono-failed");
    node.removeAttribute("data-text");
    return node;
  }

  function addPending(text) {
    emptyHint.hidden = true;
    disableButtons(list);
    var node = newMessageNode({ direction: "in", author: "customer", text: text });
    node.classList.add("unisono-pending");
    node.setAttribute("data-text", text.trim());
    list.appendChild(node);
    scrollToEnd();
    return node;
  }

  function clearMessages() {
    var nodes = messageNodes();
    for (var i = 0; i < nodes.length; i++) {
      if (!nodes[i].classList.contains("unisono-pending")) nodes[i].parentNode.removeChild(nodes[i]);
    }
    emptyHint.hidden = list.querySelector(".unisono-msg") !== null;
    state.streamAfter = 0;
    state.languageAt = 0;
    applyLanguage(PAGE_LANG); // until the other conversation's language is known
  }

  // -- language ---------------------------------------------------------------------------------
  /** Puts the widget's own words (not the conversation's) in `lang`: every label, hint and notice. */
  function applyLanguage(lang) {
    if (lang === LANG) return;
    root.classList.remove("unisono-lang-" + LANG);
    root.classList.add("unisono-lang-" + lang);
    root.setAttribute("lang", lang);
    LANG = lang;
    T = STRINGS[lang];
    title.textContent = T.title;
    subtitle.textContent = T.subtitle;
    closeButton.setAttribute("aria-label", T.closeChat);
    list.setAttribute("aria-label", T.log);
    emptyHint.textContent = T.empty;
    typingLabel.textContent = T.typing;
    inputLabel.textContent = T.inputLabel;
    input.setAttribute("placeholder", T.placeholder);
    sendButton.setAttribute("aria-label", T.send);
    updateBadge(); // the launcher's label
    if (state.notice) showNotice(state.notice);
    var nodes = messageNodes();
    for (var i = 0; i < nodes.length; i++) relabel(nodes[i]);
  }

  function relabel(node) {
    var message = {
      direction: node.classList.contains("unisono-in") ? "in" : "out",
      author: node.classList.contains("unisono-author-agent") ? "agent" : "bot"
    };
    var who = node.querySelector(".unisono-who");
    if (who) who.textContent = authorLabel(message) + ": ";
    var name = node.querySelector(".unisono-author");
    if (name) name.textContent = T.agent;
    var image = node.querySelector(".unisono-image");
    if (image) image.alt = T.image;
    var group = node.querySelector(".unisono-buttons");
    if (group) group.setAttribute("aria-label", T.options);
    var time = node.querySelector(".unisono-time");
    var when = time && timeOf(time.getAttribute("datetime"));
    if (when) time.textContent = clockTime(when);
  }

  /** The server's word on the conversation's language, as of message `atId`: newer word wins. */
  function followConversation(language, atId) {
    var lang = supported(language);
    if (!lang) return; // null until the assistant knows
    atId = typeof atId === "number" ? atId : 0;
    if (atId < state.languageAt) return; // an answer that overtook this one spoke later
    state.languageAt = atId;
    applyLanguage(lang);
  }

  // -- session, history and the live feed -------------------------------------------------------
  /** The session a token names ("<session>.<issued at>.<mac>"): renewals change the rest. */
  function sessionOf(token) {
    return String(token || "").split(".").slice(0, -2).join(".");
  }

  /** A renewed token handed back with an answer: the same session, valid for longer. */
  function adopt(token) {
    if (!token || sessionOf(token) !== sessionOf(state.token)) return;
    state.token = token;
    if (!state.identity) storeToken(token);
  }

  function signIn() {
    var body = state.identity ? { identity: state.identity } : {};
    return request("POST", "/session", body).then(function (json) { return json.token; });
  }

  /** The session in use renewed (expired or refused: a new one), else a new one. */
  function obtainToken() {
    var saved = state.token || (state.identity ? null : storedToken());
    if (!saved) return signIn();
    return request("POST", "/session", { token: saved }).then(
      function (json) { return json.token; },
      function (error) {
        if (error instanceof HttpError && error.status === 401) {
          // Expired after days without use, tampered, or signed with a retired secret: the
          // history stays with the old session; a verified identity signs in again.
          if (!state.identity) storeToken(null);
          state.token = null;
          return signIn();
        }
        throw error;
      }
    );
  }

  function loadHistory() {
    return request("GET", "/history").then(function (json) {
      var last = 0;
      (json.messages || []).forEach(function (message) {
        render(message, false);
        state.streamAfter = Math.max(state.streamAfter, message.id);
        if (typeof message.id === "number") last = Math.max(last, message.id);
      });
      followConversation(json.language, last);
    });
  }

  /** Session, then history, then the live feed; retried with backoff while the server is away. */
  function start() {
    var generation = ++state.generation;
    closeStream();
    var attempt = 0;
    function tryOnce() {
      return obtainToken()
        .then(function (token) {
          if (generation !== state.generation) return;
          if (state.renderedFor && sessionOf(token) !== state.renderedFor) {
            clearMessages(); // another session: another conversation
          }
          state.token = token;
          state.renderedFor = sessionOf(token);
          if (!state.identity) storeToken(token);
          return loadHistory();
        })
        .then(function () {
          if (generation !== state.generation) return;
          showNotice("");
          connect(generation);
        })
        .catch(function (error) {
          if (generation !== state.generation) return;
          if (error instanceof HttpError && error.status >= 400 && error.status < 500 && error.status !== 429) {
            showNotice("sendFailed");
            throw error; // a refusal (e.g. a wrong identity signature) is not retried forever
          }
          showNotice(attempt === 0 ? "connecting" : "reconnecting");
          var wait = backoff(attempt++);
          if (error instanceof HttpError && error.retryAfter) wait = Math.max(wait, error.retryAfter * 1000);
          return sleep(wait).then(tryOnce);
        });
    }
    state.ready = tryOnce();
    state.ready.catch(function () { /* shown in the notice */ });
    return state.ready;
  }

  function closeStream() {
    if (state.reconnectTimer) {
      clearTimeout(state.reconnectTimer);
      state.reconnectTimer = null;
    }
    if (state.source) {
      state.source.close();
      state.source = null;
    }
  }

  function connect(generation) {
    closeStream();
    if (typeof window.EventSource !== "function") return; // replies still arrive with each send
    // The session token stays in headers: the stream's URL carries a single-use ticket instead.
    request("POST", "/ticket", {}).then(
      function (json) {
        if (generation !== state.generation || state.source) return;
        adopt(json.token);
        listen(generation, json.ticket);
      },
      function (error) {
        if (generation !== state.generation) return;
        if (error instanceof HttpError && error.status === 401) {
          // The session expired: renew it, or start a new one (after a pause, so a server that
          // keeps refusing is not asked in a tight loop).
          state.reconnectAttempt = Math.max(state.reconnectAttempt, 2);
        }
        reconnectLater(generation);
      }
    );
  }

  function listen(generation, ticket) {
    var url = ENDPOINT + "/events?ticket=" + encodeURIComponent(ticket) + "&after=" + state.streamAfter;
    var source = new EventSource(url);
    state.source = source;
    source.addEventListener("open", function () {
      state.reconnectAttempt = 0;
      showNotice("");
    });
    source.addEventListener("message", function (event) {
      if (generation !== state.generation) return;
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      render(message, true);
      if (typeof message.id === "number") state.streamAfter = Math.max(state.streamAfter, message.id);
    });
    source.addEventListener("error", function () {
      // Reconnect ourselves (with a new ticket), so the resume point is the last message we have.
      if (generation !== state.generation || state.source !== source) return;
      source.close();
      state.source = null;
      reconnectLater(generation);
    });
  }

  function reconnectLater(generation) {
    if (state.reconnectTimer) return;
    var attempt = state.reconnectAttempt++;
    if (attempt > 0) showNotice("reconnecting");
    state.reconnectTimer = setTimeout(function () {
      state.reconnectTimer = null;
      if (generation !== state.generation) return;
      // After repeated failures the token itself may be the problem (a rotated secret).
      if (attempt >= 2) {
        start();
      } else {
        connect(generation);
      }
    }, backoff(attempt));
  }

  // -- sending ----------------------------------------------------------------------------------
  function postMessage(body, renewed) {
    var attempt = 0;
    function tryOnce() {
      return request("POST", "/webhook", body).catch(function (error) {
        if (error instanceof HttpError) {
          if (error.status === 401 && !renewed) {
            renewed = true;
            state.token = null;
            storeToken(null);
            return start().then(tryOnce);
          }
          throw error;
        }
        // The network failed: retry with the same client_id, which the server dedupes.
        if (++attempt >= SEND_ATTEMPTS) throw error;
        return sleep(backoff(attempt - 1)).then(tryOnce);
      });
    }
    return tryOnce();
  }

  function send(text, payload) {
    text = String(text || "");
    if (!text.trim() && !payload) return Promise.resolve(null);
    if (text.length > MAX_TEXT) {
      showNotice("tooLong");
      return Promise.resolve(null);
    }
    showNotice("");
    var pending = addPending(text);
    var body = { text: text, client_id: uuid() };
    if (payload) body.payload = payload;
    state.inFlight += 1;
    updateTyping();
    return (state.ready || start())
      .then(function () { return postMessage(body, false); })
      .then(function (json) {
        adopt(json.token);
        if (typeof json.message_id === "number" && pending.parentNode) {
          var known = findById(json.message_id);
          if (known && known !== pending) {
            pending.parentNode.removeChild(pending);
          } else {
            confirmPending(pending).setAttribute("data-id", String(json.message_id));
            placeById(pending, json.message_id);
          }
        }
        (json.replies || []).forEach(function (message) { render(message, true); });
        followConversation(json.language, json.message_id);
        return json;
      })
      .catch(function (error) {
        pending.classList.add("unisono-failed");
        var status = error instanceof HttpError ? error.status : 0;
        var notices = { 400: "rejected", 413: "tooLong", 429: "slowDown" };
        showNotice(notices[status] || "sendFailed");
        return null;
      })
      .then(function (result) {
        state.inFlight -= 1;
        updateTyping();
        return result;
      });
  }

  // -- events -----------------------------------------------------------------------------------
  launcher.addEventListener("click", function () {
    setOpen(!state.open);
  });
  closeButton.addEventListener("click", function () {
    setOpen(false);
    launcher.focus();
  });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      setOpen(false);
      launcher.focus();
    }
  });
  input.addEventListener("input", function () {
    updateSendButton();
    autoGrow();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (!sendButton.disabled) submit();
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });

  function submit() {
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    updateSendButton();
    autoGrow();
    send(text);
    input.focus();
  }

  // -- boot -------------------------------------------------------------------------------------
  function mount() {
    injectStyles();
    document.body.appendChild(root);
    if (data.open === "true") setOpen(true, false); // no focus theft on page load
    start();
  }

  window.Unisono = {
    version: "1.0.0",
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    toggle: function () { setOpen(!state.open); },
    /** Sends a message as if typed; resolves with the server's answer (or null on failure). */
    send: function (text) { return send(text); },
    /** Switches to a logged-in user's verified session: {user_id, ts, signature, email?, name?}. */
    identify: function (identity) {
      state.identity = identity || null;
      state.token = null; // with null: back to this browser's anonymous session
      return start();
    }
  };

  if (document.body) {
    mount();
  } else {
    document.addEventListener("DOMContentLoaded", mount);
  }
})();
