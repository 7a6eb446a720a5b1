/* Tiergate tables: search, filter, sort, page and download as CSV, for every table marked data-table.
   Progressive enhancement: without this script the table is the whole, plain table the server sent.
   Attributes on the table:
     data-table="name"        the CSV file's name (name.csv)
     data-page-size="25"      rows per page (0: no paging)
     data-csv-href="/x.csv"   download from the server instead (all the data, not only the rows shown)
   On a header cell: data-filter (a drop-down of the column's values), data-nosort.
   On a body cell: data-sort (the value sorted by), data-csv (the value written to the CSV). */
(function () {
  "use strict";

  function cellText(cell) {
    if (!cell) return "";
    if (cell.hasAttribute("data-csv")) return cell.getAttribute("data-csv");
    return cell.textContent.replace(/\s+/g, " ").trim();
  }

  function sortValue(cell) {
    if (!cell) return "";
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cellText(cell);
    var number = Number(raw.replace(/[,\u202f\u00a0 ]/g, "").replace(/^[–-]$/, ""));
    return raw !== "" && !isNaN(number) ? number : raw.toLowerCase();
  }

  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") return a - b;
    if (typeof a === "number") return -1;
    if (typeof b === "number") return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }

  function csvField(text) {
    // A cell that a spreadsheet would run as a formula is written as text.
    if (/^[=+\-@\t\r]/.test(text) && isNaN(Number(text))) text = "'" + text;
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function element(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function enhance(table) {
    var body = table.tBodies[0];
    var head = table.tHead;
    if (!body || !head || table.dataset.enhanced) return;
    table.dataset.enhanced = "1";
    var headers = Array.prototype.slice.call(head.rows[head.rows.length - 1].cells);
    var rows = Array.prototype.slice.call(body.rows).filter(function (r) {
      return !(r.cells.length === 1 && r.cells[0].colSpan > 1);  // the "nothing yet" row
    });
    rows.forEach(function (r) {  // each value's column name, shown beside it when rows are stacked (phones)
      headers.forEach(function (th, i) {
        var label = cellText(th);
        if (r.cells[i] && label) r.cells[i].setAttribute("data-label", label);
      });
    });
    var haystack = new Map();  // each row's text, lower-cased once, for the search
    rows.forEach(function (r) { haystack.set(r, r.textContent.replace(/\s+/g, " ").toLowerCase()); });
    var empty = Array.prototype.slice.call(body.rows).filter(function (r) { return rows.indexOf(r) < 0; });
    var name = table.dataset.table || "table";
    var pageSize = parseInt(table.dataset.pageSize || "25", 10);
    var state = { query: "", filters: {}, column: -1, descending: false, page: 0 };

    var wrap = element("div", { "class": "table-wrap" });
    table.parentNode.insertBefore(wrap, table);
    var tools = element("div", { "class": "table-tools", role: "group", "aria-label": "Table tools" });
    var search = element("input", { type: "search", "class": "table-search", placeholder: "Search", "aria-label": "Search the table" });
    tools.appendChild(search);
    headers.forEach(function (th, index) {
      if (!th.hasAttribute("data-filter")) return;
      var values = {};
      rows.forEach(function (r) { values[cellText(r.cells[index])] = true; });
      var select = element("select", { "class": "table-filter", "data-column": String(index), "aria-label": "Filter by " + cellText(th) });
      select.appendChild(element("option", { value: "" }, cellText(th) + ": all"));
      Object.keys(values).filter(function (v) { return v !== ""; }).sort().forEach(function (v) { select.appendChild(element("option", { value: v }, v)); });
      select.addEventListener("change", function () { state.filters[index] = select.value; state.page = 0; draw(); });
      tools.appendChild(select);
    });
    var count = element("span", { "class": "table-count muted", "aria-live": "polite" });
    tools.appendChild(count);
    var download;
    if (table.dataset.csvHref) {
      download = element("a", { "class": "table-csv button", href: table.dataset.csvHref, download: name + ".csv" }, "Download CSV");
    } else {
      download = element("button", { type: "button", "class": "table-csv secondary" }, "Download CSV");
      download.addEventListener("click", function () { save(); });
    }
    tools.appendChild(download);
    wrap.appendChild(tools);
    var scroller = element("div", { "class": "table-scroll" });
    wrap.appendChild(scroller);
    scroller.appendChild(table);
    var pager = element("div", { "class": "table-pager" });
    var previous = element("button", { type: "button", "class": "secondary table-previous" }, "‹ Previous");
    var where = element("span", { "class": "table-page muted" });
    var next = element("button", { type: "button", "class": "secondary table-next" }, "Next ›");
    previous.addEventListener("click", function () { state.page -= 1; draw(); });
    next.addEventListener("click", function () { state.page += 1; draw(); });
    pager.appendChild(previous); pager.appendChild(where); pager.appendChild(next);
    wrap.appendChild(pager);

    headers.forEach(function (th, index) {
      if (th.hasAttribute("data-nosort")) return;
      var button = element("button", { type: "button", "class": "sort" }, cellText(th));
      th.textContent = "";
      th.appendChild(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", function () {
        state.descending = state.column === index ? !state.descending : false;
        state.column = index;
        headers.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", state.descending ? "descending" : "ascending");
        draw();
      });
    });
    search.addEventListener("input", function () { state.query = search.value.toLowerCase(); state.page = 0; draw(); });

    function matching() {
      var found = rows.filter(function (r) {
        if (state.query && haystack.get(r).indexOf(state.query) < 0) return false;
        return Object.keys(state.filters).every(function (i) {
          return !state.filters[i] || cellText(r.cells[i]) === state.filters[i];
        });
      });
      if (state.column >= 0) {
        var c = state.column;
        found = found.map(function (r, i) { return [sortValue(r.cells[c]), i, r]; })
          .sort(function (a, b) { return (state.descending ? -1 : 1) * compare(a[0], b[0]) || a[1] - b[1]; })
          .map(function (x) { return x[2]; });
      }
      return found;
    }

    function draw() {
      var found = matching();
      var pages = pageSize > 0 ? Math.max(1, Math.ceil(found.length / pageSize)) : 1;
      state.page = Math.min(Math.max(state.page, 0), pages - 1);
      var first = pageSize > 0 ? state.page * pageSize : 0;
      var shown = pageSize > 0 ? found.slice(first, first + pageSize) : found;
      rows.forEach(function (r) { r.hidden = true; });
      shown.forEach(function (r) { r.hidden = false; body.appendChild(r); });
      empty.forEach(function (r) { body.appendChild(r); });
      count.textContent = found.length === rows.length ? rows.length + " row(s)" : found.length + " of " + rows.length + " row(s)";
      where.textContent = found.length ? "rows " + (first + 1) + "–" + (first + shown.length) + " of " + found.length : "no row matches";
      previous.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
      pager.hidden = pages <= 1;
    }

    function save() {
      var lines = [headers.map(function (th) { return csvField(cellText(th)); }).join(",")];
      matching().forEach(function (r) {
        lines.push(headers.map(function (_, i) { return csvField(cellText(r.cells[i])); }).join(","));
      });
      var blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
      var link = element("a", { href: URL.createObjectURL(blob), download: name + ".csv" });
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 0);
    }

    draw();
  }

  function all() {
    Array.prototype.forEach.call(document.querySelectorAll("table[data-table]"), enhance);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all);
  else all();
})();
