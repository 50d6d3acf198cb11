// What a reader sees go wrong on a page, measured from the DOM's bounding boxes (run by
// tests/site/test_site_browser.py through selenium: `<this file>; return secondlookLayout();`):
//   wide:     elements whose right edge is past the viewport, or which scroll sideways
//   overlaps: pairs of text boxes (headings, chart titles, legends, axis titles, tick labels,
//             annotations, menus, bar labels: inside Plotly's SVG too) that overlap
//   clipped:  tables whose header or last column is not visible within the page's width
//   untitled: table headers without a definition on hover (`title`)
function secondlookLayout() {
  const width = document.documentElement.clientWidth;
  const SLACK = 1; // sub-pixel rounding
  const describe = (el) => {
    const id = el.id ? "#" + el.id : "";
    const cls = typeof el.className === "string" && el.className ? "." + el.className.trim().split(/\s+/).join(".") : "";
    const plot = el.closest && el.closest(".plot");
    const where = plot && plot !== el ? ` in #${plot.id}` : "";
    const text = (el.textContent || "").trim().slice(0, 40);
    return `${el.tagName.toLowerCase()}${id}${cls}${where} "${text}"`;
  };
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width < 0.5 || r.height < 0.5) return false;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none" || Number(style.opacity) === 0) return false;
    return !el.closest("details:not([open]) > :not(summary)") && !el.closest("table.folded:not(.open) tr.extra");
  };

  // --- wider than the viewport -----------------------------------------------------------------
  const wide = [];
  if (document.documentElement.scrollWidth > width + SLACK) {
    wide.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px wide in ${width} px`);
  }
  for (const el of document.querySelectorAll("body *")) {
    // Plotly measures text in an SVG it parks at -10000 px: not part of the page
    if (!visible(el) || el.closest(".hoverlayer, #js-plotly-tester")) continue;
    const r = el.getBoundingClientRect();
    if (r.right > width + SLACK || r.left < -SLACK) {
      wide.push(`${describe(el)}: ${Math.round(r.left)}..${Math.round(r.right)} px in ${width} px`);
    }
  }
  for (const el of document.querySelectorAll(".table-wrap, .table-scroll")) {
    if (visible(el) && el.scrollWidth > el.clientWidth + SLACK) {
      wide.push(`${describe(el)} scrolls sideways: ${el.scrollWidth} px in ${el.clientWidth} px`);
    }
  }

  // --- overlapping text ------------------------------------------------------------------------
  const SVG_TEXT = [
    "g.infolayer .gtitle", "g.infolayer .xtitle", "g.infolayer .ytitle", "g.infolayer g.legend text",
    "g.infolayer .annotation-text-g", "g.xtick text", "g.ytick text", "g.updatemenu-header-group text",
    "text.bartext", "g.sankey text.node-label", "g.colorbar text",
  ];
  const boxes = [];
  for (const plot of document.querySelectorAll(".plot")) {
    for (const el of plot.querySelectorAll(SVG_TEXT.join(","))) {
      if (visible(el) && (el.textContent || "").trim()) boxes.push({ el, group: plot.id, r: el.getBoundingClientRect() });
    }
  }
  const HTML_TEXT = "h1, h2, h3, p.chart-title, figcaption, .card .label, .card .value, .card .sub, nav a";
  for (const el of document.querySelectorAll(HTML_TEXT)) {
    if (visible(el)) boxes.push({ el, group: "page", r: el.getBoundingClientRect() });
  }
  // a chart's own boxes against each other, and the page's text against every chart
  const overlaps = [];
  const plots = Array.from(document.querySelectorAll(".plot")).filter(visible);
  for (let i = 0; i < boxes.length; i++) {
    const a = boxes[i];
    for (let j = i + 1; j < boxes.length; j++) {
      const b = boxes[j];
      if (a.group !== b.group) continue;
      if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
      const dx = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
      const dy = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
      if (dx > 2 && dy > 2) overlaps.push(`${describe(a.el)} overlaps ${describe(b.el)} (${Math.round(dx)}x${Math.round(dy)} px)`);
    }
    if (a.group === "page") {
      for (const plot of plots) {
        const r = plot.getBoundingClientRect();
        const dx = Math.min(a.r.right, r.right) - Math.max(a.r.left, r.left);
        const dy = Math.min(a.r.bottom, r.bottom) - Math.max(a.r.top, r.top);
        if (dx > 2 && dy > 2) overlaps.push(`${describe(a.el)} overlaps the chart #${plot.id}`);
      }
    }
  }

  // --- tables: header and last column within the page ------------------------------------------
  const clipped = [];
  const untitled = [];
  let tables = 0;
  for (const table of document.querySelectorAll("table")) {
    if (!visible(table)) continue;
    tables += 1;
    const wrap = table.closest(".table-wrap, .table-scroll") || table.parentElement;
    const limit = Math.min(width, wrap.getBoundingClientRect().right) + SLACK;
    const head = table.querySelectorAll("thead th");
    if (!head.length) clipped.push(`${describe(table)} has no header row`);
    const last = head[head.length - 1];
    if (last && last.getBoundingClientRect().right > limit) clipped.push(`${describe(last)}: last header is cut at ${Math.round(limit)} px`);
    const row = table.querySelector("tbody tr:last-child");
    const cell = row && row.lastElementChild;
    if (cell && cell.getBoundingClientRect().right > limit) clipped.push(`${describe(cell)}: last column is cut at ${Math.round(limit)} px`);
    for (const th of head) if (!th.title) untitled.push(describe(th));
  }
  return { width, wide, overlaps, clipped, untitled, tables, texts: boxes.length };
}
