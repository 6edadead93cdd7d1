/**
 * The dashboard's only style sheet and script, inlined into every page (no
 * build step, no CDN; the CSP admits them by nonce). The script is progressive:
 * every action works without it. It sorts tables, selects all rows, and draws
 * the live chart from the overview's event stream.
 * @module
 */

/** The style sheet: readable from a phone to a laptop, light and dark. */
export const CSS = `
:root{--bg:#f7f7f9;--fg:#1d1f23;--muted:#5f6670;--card:#fff;--line:#dcdfe4;--accent:#1f5fbf;
--ok:#1b7f3b;--warn:#a15c00;--bad:#b3261e;--chip:#eef1f5;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#15171a;--fg:#e6e8eb;--muted:#9aa3ad;--card:#1e2125;
--line:#30343a;--accent:#7fb0ff;--ok:#5cc983;--warn:#f0b35a;--bad:#ff8a80;--chip:#2a2e34}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible,summary:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
header{background:var(--card);border-bottom:1px solid var(--line);padding:.5rem 1rem;display:flex;flex-wrap:wrap;align-items:center;gap:.25rem 1rem}
header .brand{font-weight:700;font-size:1.1rem;text-decoration:none;color:var(--fg)}
nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem;margin:0;padding:0}
nav a{display:block;padding:.35rem .6rem;border-radius:6px;text-decoration:none;color:var(--fg)}
nav a[aria-current=page]{background:var(--chip);font-weight:600}
.tag{display:inline-block;padding:.05rem .45rem;border-radius:999px;background:var(--chip);font-size:.8rem;white-space:nowrap}
.tag.running{color:var(--ok)}.tag.pausing,.tag.dead{color:var(--warn)}.tag.paused{color:var(--bad)}
.tag.idle{color:var(--muted)}.tag.alive{color:var(--ok)}
main{padding:1rem;max-width:1400px;margin:0 auto}
h1{font-size:1.4rem;margin:.25rem 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(7rem,1fr));gap:.6rem;margin-bottom:1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.6rem .8rem;text-decoration:none;color:var(--fg)}
.card b{display:block;font-size:1.35rem;font-variant-numeric:tabular-nums}
.card span{color:var(--muted);font-size:.85rem}
.panel{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.75rem;margin-bottom:1rem}
.scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid var(--line);vertical-align:middle}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted);white-space:nowrap}
th button{font:inherit;color:inherit;text-transform:inherit;letter-spacing:inherit;background:none;border:0;padding:0;cursor:pointer}
th[aria-sort=ascending] button::after{content:" ▲"}th[aria-sort=descending] button::after{content:" ▼"}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr:last-child td{border-bottom:0}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem}
td.args{min-width:10rem;max-width:28rem;overflow-wrap:break-word;word-break:break-word}
td.error{max-width:24rem;overflow-wrap:anywhere;color:var(--bad)}
pre{background:var(--chip);padding:.75rem;border-radius:6px;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}
.btn{font:inherit;padding:.35rem .75rem;border-radius:6px;border:1px solid var(--line);background:var(--card);color:var(--fg);cursor:pointer}
.btn:hover{border-color:var(--accent)}
.btn.primary{background:var(--accent);border-color:var(--accent);color:var(--card)}
.btn.danger{color:var(--bad);border-color:var(--bad)}
form.inline{display:inline}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.5rem 0}
details.confirm{display:inline-block}
details.confirm summary{list-style:none}
details.confirm summary::-webkit-details-marker{display:none}
details.confirm[open]>div{margin-top:.5rem;padding:.5rem;border:1px solid var(--bad);border-radius:6px;background:var(--card)}
.flash{padding:.5rem .75rem;border-radius:6px;background:var(--chip);border-left:4px solid var(--ok);margin-bottom:1rem}
.flash.bad{border-left-color:var(--bad)}
.empty{padding:1.5rem;text-align:center;color:var(--muted)}
.muted{color:var(--muted)}
.pager{display:flex;gap:1rem;align-items:center;margin:.5rem 0;color:var(--muted)}
dl.fields{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}
dl.fields dt{color:var(--muted)}dl.fields dd{margin:0;overflow-wrap:anywhere}
#chart h2{margin-top:0}
.actions .spacer{flex:1}
#chart svg{width:100%;height:200px;display:block;margin:.5rem 0}
#chart .processed{stroke:var(--accent);fill:none;stroke-width:2}
#chart .failed{stroke:var(--bad);fill:none;stroke-width:2}
#chart .grid{stroke:var(--line)}#chart text{fill:var(--muted);font-size:11px}
.legend{display:flex;gap:1rem;flex-wrap:wrap;font-size:.9rem}
.legend .p{color:var(--accent)}.legend .f{color:var(--bad)}
.problem{color:var(--bad)}
@media (max-width:640px){main{padding:.5rem}.hide-sm{display:none}th,td{padding:.35rem .4rem}
body{font-size:14px}dl.fields{grid-template-columns:1fr}dl.fields dt{margin-top:.4rem}}
`;

/** The script: sortable tables, select all, the live chart. */
export const SCRIPT = `
"use strict";
(() => {
  const valueOf = (cell) => cell.dataset.v ?? cell.querySelector("[data-v]")?.dataset.v ?? cell.textContent.trim();
  for (const table of document.querySelectorAll("table.sortable")) {
    table.querySelectorAll("th[data-sort] button").forEach((button) => {
      const th = button.closest("th");
      button.addEventListener("click", () => {
        const index = [...th.parentNode.children].indexOf(th);
        const ascending = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("th[aria-sort]").forEach((other) => other.removeAttribute("aria-sort"));
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        const body = table.tBodies[0];
        const rows = [...body.rows];
        const numeric = th.dataset.sort === "num";
        rows.sort((a, b) => {
          const x = valueOf(a.cells[index]), y = valueOf(b.cells[index]);
          const order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
          return ascending ? order : -order;
        });
        body.append(...rows);
      });
    });
  }
  for (const all of document.querySelectorAll("input[data-select-all]")) {
    const boxes = () => [...all.form.querySelectorAll("input[name=jid]")];
    all.addEventListener("change", () => boxes().forEach((box) => box.checked = all.checked));
    all.form.addEventListener("change", (event) => {
      if (event.target !== all) all.checked = boxes().every((box) => box.checked);
    });
  }
  const chart = document.getElementById("chart");
  if (!chart || !window.EventSource) return;
  const NS = "http://www.w3.org/2000/svg", H = 200, TOP = 16, WINDOW = 120000;
  const svg = chart.querySelector("svg");
  const el = (name, attrs) => {
    const node = document.createElementNS(NS, name);
    for (const key in attrs) node.setAttribute(key, attrs[key]);
    return node;
  };
  let points = [];
  const draw = () => {
    const W = svg.clientWidth || 600;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    const now = Date.now();
    points = points.filter((p) => p[0] >= now - WINDOW);
    const max = Math.max(1, ...points.map((p) => Math.max(p[1], p[2])));
    const x = (t) => ((t - (now - WINDOW)) / WINDOW * W).toFixed(1);
    const y = (v) => (H - 1 - v / max * (H - TOP)).toFixed(1);
    svg.replaceChildren();
    for (const f of [0, 0.5, 1]) {
      svg.append(el("line", { x1: 0, x2: W, y1: y(max * f), y2: y(max * f), class: "grid" }));
      const label = el("text", { x: 4, y: Number(y(max * f)) - 4 });
      label.textContent = (max * f).toFixed(max < 10 ? 1 : 0) + "/s";
      svg.append(label);
    }
    for (const [series, index] of [["processed", 1], ["failed", 2]]) {
      const line = el("polyline", { class: series, points: points.map((p) => x(p[0]) + "," + y(p[index])).join(" ") });
      svg.append(line);
    }
    const last = points[points.length - 1];
    chart.querySelector("[data-now=processed]").textContent = last ? last[1] : "-";
    chart.querySelector("[data-now=failed]").textContent = last ? last[2] : "-";
  };
  const source = new EventSource(chart.dataset.src);
  source.addEventListener("rates", (e) => { points = JSON.parse(e.data); draw(); });
  source.addEventListener("rate", (e) => { points.push(JSON.parse(e.data)); draw(); });
  source.addEventListener("summary", (e) => {
    const summary = JSON.parse(e.data);
    for (const node of document.querySelectorAll("[data-stat]")) {
      const value = summary[node.dataset.stat];
      if (typeof value === "number") node.textContent = value.toLocaleString("en-US");
    }
  });
  source.addEventListener("problem", (e) => {
    chart.querySelector(".problem").textContent = JSON.parse(e.data);
  });
  draw();
})();
`;
