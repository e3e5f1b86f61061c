// The tradewind dashboard: plain JavaScript, no external assets. Everything it shows comes
// from the API with the token kept in this tab's sessionStorage.
(function () {
  "use strict";
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem("tradewind-token") || "";
  let timer = null;
  let socket = null;

  async function call(path, opts) {
    const o = opts || {};
    const headers = { Authorization: "Bearer " + token };
    if (o.body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(API + path, {
      method: o.method || "GET", headers: headers,
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
    });
    if (r.status === 401) { logout("The token was refused."); throw new Error("401"); }
    const data = await r.json();
    if (!r.ok) throw new Error(typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail));
    return data;
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function fill(tableId, rows, render) {
    const body = $(tableId).querySelector("tbody");
    body.replaceChildren();
    for (const row of rows) { const tr = document.createElement("tr"); render(tr, row); body.appendChild(tr); }
  }
  const num = (x, d) => (x === null || x === undefined ? "" : Number(x).toFixed(d === undefined ? 2 : d));
  const time = (d) => (d ? String(d).slice(11, 19) : "");
  const sign = (x) => (x > 0 ? "pos" : x < 0 ? "neg" : "");

  function drawEquity(points) {
    const svg = $("equity");
    svg.replaceChildren();
    if (points.length < 2) return;
    const ys = points.map((p) => p[1]);
    const lo = Math.min(...ys), hi = Math.max(...ys), span = hi - lo || 1;
    const d = points.map((p, i) => (i ? "L" : "M") + (i * 600 / (points.length - 1)).toFixed(1) + "," +
      (115 - (p[1] - lo) * 110 / span).toFixed(1)).join(" ");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", d); path.setAttribute("fill", "none");
    path.setAttribute("stroke", "#3b6ee8"); path.setAttribute("stroke-width", "1.5");
    path.setAttribute("vector-effect", "non-scaling-stroke");
    svg.appendChild(path);
  }

  async function refresh() {
    try {
      const [state, status, fills, funnel, signals, vetoes, wl, eq] = await Promise.all([
        call("/state"), call("/status"), call("/fills?limit=15"), call("/funnel"),
        call("/signals?limit=12"), call("/vetoes?limit=12"), call("/watchlist"), call("/equity?points=300"),
      ]);
      const badge = $("state");
      badge.textContent = state.state; badge.className = "badge " + state.state;
      $("mode").textContent = state.mode + " · " + state.instruments.join(", ");
      $("pause").classList.toggle("hidden", state.state !== "running");
      $("resume").classList.toggle("hidden", state.state === "running");
      $("equity-now").textContent = num(eq.equity) + " " + eq.currency;
      drawEquity(eq.points);
      fill("positions", status, (tr, t) => {
        tr.dataset.instrument = t.pair;
        cell(tr, t.trade_id); cell(tr, t.pair); cell(tr, t.is_short ? "short" : "long");
        cell(tr, num(t.amount, 4)); cell(tr, num(t.open_rate)); cell(tr, num(t.current_rate));
        cell(tr, num(t.unrealized_profit), "pnl " + sign(t.unrealized_profit));
        const b = document.createElement("button");
        b.textContent = "Exit"; b.className = "small danger";
        b.onclick = () => act("/forceexit", { tradeid: String(t.trade_id) });
        tr.appendChild(document.createElement("td")).appendChild(b);
      });
      fill("fills", fills, (tr, f) => { cell(tr, time(f.date)); cell(tr, f.instrument); cell(tr, f.side); cell(tr, f.quantity); cell(tr, f.price); });
      fill("funnel", Object.entries(funnel.funnel), (tr, kv) => { cell(tr, kv[0]); cell(tr, kv[1]); });
      fill("signals", signals.signals, (tr, s) => { cell(tr, time(s.date)); cell(tr, s.instrument); cell(tr, s.side); cell(tr, num(s.score, 1)); });
      fill("vetoes", vetoes.vetoes, (tr, v) => { cell(tr, time(v.date)); cell(tr, v.instrument); cell(tr, v.filter); cell(tr, v.reason); });
      fill("watchlist", wl.watchlist, (tr, e) => {
        cell(tr, e.instrument); cell(tr, e.market_type); cell(tr, e.priority); cell(tr, e.expires);
        cell(tr, Math.floor(e.expires_in_s / 3600) + " h " + Math.floor((e.expires_in_s % 3600) / 60) + " m");
      });
      $("error").textContent = "";
    } catch (e) {
      if (e.message !== "401") $("error").textContent = "refresh failed: " + e.message;
    }
  }

  async function act(path, body) {
    try { await call(path, { method: "POST", body: body }); } catch (e) { $("error").textContent = e.message; }
    refresh();
  }

  function connectEvents() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + API + "/ws";
    socket = new WebSocket(url, ["bearer", token]);
    socket.onmessage = () => { if (!timer) return; clearTimeout(pending); pending = setTimeout(refresh, 150); };
  }
  let pending = null;

  function showMain() {
    $("login").classList.add("hidden"); $("main").classList.remove("hidden");
    document.querySelectorAll("[data-needs-login]").forEach((el) => el.classList.remove("hidden"));
    refresh();
    timer = setInterval(refresh, 1000);
    connectEvents();
  }

  function logout(message) {
    sessionStorage.removeItem("tradewind-token"); token = "";
    if (timer) clearInterval(timer); timer = null;
    if (socket) socket.close(); socket = null;
    $("main").classList.add("hidden"); $("login").classList.remove("hidden");
    document.querySelectorAll("[data-needs-login]").forEach((el) => el.classList.add("hidden"));
    $("login-error").textContent = message || "";
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    token = $("token").value.trim();
    try {
      await call("/state");
      sessionStorage.setItem("tradewind-token", token);
      showMain();
    } catch (e) {
      if (e.message !== "401") $("login-error").textContent = "login failed: " + e.message;
    }
  });
  $("pause").onclick = () => act("/pause");
  $("resume").onclick = () => act("/start");
  $("exitall").onclick = () => act("/forceexit", { tradeid: "all" });
  $("logout").onclick = () => logout();
  if (token) showMain();
})();
