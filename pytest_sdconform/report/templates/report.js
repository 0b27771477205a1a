// Draws each case's timeline, latency and throughput as SVG from the inlined JSON.
// Everything from a history reaches the page through textContent or setAttribute, never as markup.
(function () {
  "use strict";
  var SVG_NS = "http://www.w3.org/2000/svg";
  var TYPE_COLOR = ["#2da44e", "#cf222e", "#d4a72c"];  // ok, fail, info
  var FAULT_COLOR = ["#8250df", "#0969da", "#bf3989", "#1b7c83", "#953800", "#6e7781"];
  var F_COLOR = ["#0969da", "#2da44e", "#bf3989", "#953800", "#8250df", "#1b7c83", "#cf222e", "#6e7781"];
  var LEFT = 96, RIGHT = 20;

  function el(tag, attrs, parent, text) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function newSvg(container, width, height) {
    var svg = el("svg", {width: width, height: height, viewBox: "0 0 " + width + " " + height});
    container.appendChild(svg);
    return {svg: svg, width: width, height: height};
  }

  function niceStep(span, count) {
    var raw = (span || 1) / count;
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * mag >= raw) return steps[i] * mag;
    return 10 * mag;
  }

  function ticks(lo, hi, count) {
    var step = niceStep(hi - lo, count), out = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toPrecision(12));
    return out;
  }

  function fmt(x) {
    var a = Math.abs(x);
    if (a >= 1000) return Math.round(x).toLocaleString("en");
    if (a >= 10 || a === 0) return String(+x.toFixed(1));
    return String(+x.toPrecision(3));
  }

  function xScale(tl, width) {
    var lo = tl.start, hi = tl.end > tl.start ? tl.end : tl.start + 1;
    var f = function (t) { return LEFT + (t - lo) / (hi - lo) * (width - LEFT - RIGHT); };
    f.lo = lo; f.hi = hi;
    return f;
  }

  function xAxis(g, x, y, top) {
    var axis = el("g", {"class": "axis"}, g);
    el("line", {x1: x(x.lo), x2: x(x.hi), y1: y, y2: y}, axis);
    ticks(x.lo, x.hi, 10).forEach(function (t) {
      el("line", {"class": "grid", x1: x(t), x2: x(t), y1: top, y2: y}, g);
      el("line", {x1: x(t), x2: x(t), y1: y, y2: y + 4}, axis);
      el("text", {x: x(t), y: y + 15, "text-anchor": "middle"}, axis, fmt(t) + " s");
    });
  }

  function yAxis(g, y, values, label, width, format) {
    var axis = el("g", {"class": "axis"}, g);
    values.forEach(function (v) {
      el("line", {"class": "grid", x1: LEFT, x2: width - RIGHT, y1: y(v), y2: y(v)}, g);
      el("text", {x: LEFT - 6, y: y(v) + 4, "text-anchor": "end"}, axis, format(v));
    });
    el("text", {x: 12, y: (y(values[0]) + y(values[values.length - 1])) / 2, "text-anchor": "middle",
      transform: "rotate(-90 12 " + (y(values[0]) + y(values[values.length - 1])) / 2 + ")"}, axis, label);
  }

  function faultColor(windows) {
    var names = {};
    windows.forEach(function (w) { if (!(w.fault in names)) names[w.fault] = Object.keys(names).length; });
    return function (name) { return FAULT_COLOR[names[name] % FAULT_COLOR.length]; };
  }

  // Fault windows as shaded bands behind a chart (hover one for its span).
  function faultBands(g, x, windows, top, bottom) {
    var color = faultColor(windows);
    windows.forEach(function (w) {
      var x0 = x(w.start), x1 = Math.max(x(w.end), x0 + 2);
      var band = el("rect", {x: x0, y: top, width: x1 - x0, height: bottom - top,
        fill: color(w.fault), "fill-opacity": 0.12}, g);
      el("title", {}, band, faultText(w));
      el("line", {x1: x0, x2: x0, y1: top, y2: bottom, stroke: color(w.fault), "stroke-opacity": 0.6}, g);
    });
  }

  function faultText(w) {
    return w.fault + " from " + fmt(w.start) + " s to " + fmt(w.end) + " s" +
      (w.healed ? "" : " (never healed)") + (w.detail ? "\n" + w.detail : "");
  }

  function faultNames(windows) {
    var names = [];
    windows.forEach(function (w) { if (names.indexOf(w.fault) < 0) names.push(w.fault); });
    return names;
  }

  // The nemesis lanes: one row per fault, a bar per window, named; then a tint over the client lanes.
  function faultLanes(g, x, windows, names, top, rowH, axis) {
    var color = faultColor(windows);
    names.forEach(function (name, row) {
      var label = el("text", {x: LEFT - 6, y: top + row * rowH + rowH / 2 + 4, "text-anchor": "end",
        fill: color(name), "font-weight": 600}, axis, name.length > 13 ? name.slice(0, 12) + "…" : name);
      el("title", {}, label, "fault: " + name);
    });
    windows.forEach(function (w) {
      var row = names.indexOf(w.fault), y = top + row * rowH + 2;
      var x0 = x(w.start), x1 = Math.max(x(w.end), x0 + 2), text = w.fault + (w.healed ? "" : " (not healed)");
      var bar = el("rect", {x: x0, y: y, width: x1 - x0, height: rowH - 4, rx: 2, fill: color(w.fault), "fill-opacity": 0.85}, g);
      el("title", {}, bar, faultText(w));
      var inside = (x1 - x0) > text.length * 6.5 + 8;
      var t = el("text", {x: inside ? x0 + 4 : x1 + 4, y: y + rowH - 8, fill: inside ? "#fff" : color(w.fault),
        "font-weight": 600, "pointer-events": "none"}, g, text);
      t.setAttribute("font-size", "11");
    });
  }

  function faultTint(g, x, windows, top, bottom) {
    var color = faultColor(windows);
    windows.forEach(function (w) {
      var x0 = x(w.start), x1 = Math.max(x(w.end), x0 + 2);
      el("rect", {x: x0, y: top, width: x1 - x0, height: bottom - top, fill: color(w.fault),
        "fill-opacity": 0.13, "pointer-events": "none"}, g);
      [x0, x1].forEach(function (edge) {
        el("line", {x1: edge, x2: edge, y1: top, y2: bottom, stroke: color(w.fault), "stroke-width": 1.2,
          "stroke-dasharray": "4 3", "pointer-events": "none"}, g);
      });
    });
  }

  function legend(container, items) {
    var box = document.createElement("div");
    box.className = "chart-legend";
    items.forEach(function (item) {
      var span = document.createElement("span"), mark = document.createElement("i");
      if (item.dot) mark.className = "dot";
      mark.style.background = item.color;
      span.appendChild(mark);
      span.appendChild(document.createTextNode(item.label));
      box.appendChild(span);
    });
    container.appendChild(box);
  }

  function drawTimeline(container, tl, width) {
    var lanes = tl.lanes.length || 1, names = faultNames(tl.windows);
    var laneH = Math.max(4, Math.min(18, Math.floor(560 / lanes))), rowH = 18;
    var top = 6 + names.length * rowH + (names.length ? 8 : 0), plotH = lanes * laneH;
    var c = newSvg(container, width, top + plotH + 26), g = c.svg, x = xScale(tl, c.width);
    var axis = el("g", {"class": "axis"}, g);
    for (var i = 0; i < lanes; i++) {
      if (i % 2 === 0) el("rect", {x: LEFT, y: top + i * laneH, width: c.width - LEFT - RIGHT, height: laneH, fill: "#f6f8fa"}, g);
    }
    xAxis(g, x, top + plotH, top);
    faultLanes(g, x, tl.windows, names, 6, rowH, axis);
    var every = Math.ceil(11 / laneH);
    tl.lanes.forEach(function (name, n) {
      if (n % every !== 0) return;
      var label = el("text", {x: LEFT - 6, y: top + n * laneH + laneH / 2 + 4, "text-anchor": "end"}, axis, name);
      el("title", {}, label, "processes in this lane: " + tl.laneProcesses[n]);
    });
    el("text", {x: 12, y: top + plotH / 2, "text-anchor": "middle", transform: "rotate(-90 12 " + (top + plotH / 2) + ")"}, axis, "client");
    var barH = Math.max(2, laneH - 4), anomalies = [];
    tl.ops.forEach(function (op) {
      if (op[5]) { anomalies.push(op); return; }
      drawOp(g, x, op, top + op[0] * laneH + (laneH - barH) / 2, barH, false);
    });
    faultTint(g, x, tl.windows, top, top + plotH);
    anomalies.forEach(function (op) {
      el("line", {x1: x(op[1]), x2: x(op[1]), y1: top, y2: top + plotH, stroke: "#000", "stroke-opacity": 0.35,
        "stroke-dasharray": "2 2", "pointer-events": "none"}, g);
    });
    anomalies.forEach(function (op) {
      drawOp(g, x, op, top + op[0] * laneH + (laneH - barH) / 2, barH, true);
    });
  }

  function drawOp(g, x, op, y, h, anomaly) {
    var type = op[3], x0 = x(op[1]);
    var done = op[2] === null ? null : x(op[2]);
    var label = op[7] + (anomaly ? "\n(part of an anomaly)" : "");
    if (type === 2) {
      // An info operation may take effect at any time after its invocation: draw it to the end.
      var tail = el("rect", {x: x0, y: y, width: Math.max(1, x(x.hi) - x0), height: h, fill: TYPE_COLOR[2], "fill-opacity": 0.3}, g);
      el("title", {}, tail, label);
    }
    var end = done === null ? x0 + 1 : done;
    var bar = el("rect", {x: x0, y: y, width: Math.max(anomaly ? 4 : 2, end - x0), height: h, fill: TYPE_COLOR[type]}, g);
    el("title", {}, bar, label);
    if (anomaly) {
      bar.setAttribute("stroke", "#000");
      bar.setAttribute("stroke-width", 2);
      var mark = el("path", {d: "M" + x0 + " " + (y - 1) + " l-5 -8 h10 z", fill: "#000"}, g);
      el("title", {}, mark, label);
    }
  }

  function logTicks(lo, hi) {
    var out = [], e0 = Math.floor(Math.log10(lo)), e1 = Math.ceil(Math.log10(hi));
    var ms = e1 - e0 <= 2 ? [1, 2, 5] : [1];
    for (var e = e0; e <= e1; e++) ms.forEach(function (m) {
      var v = m * Math.pow(10, e);
      if (v >= lo && v <= hi) out.push(+v.toPrecision(6));
    });
    return out.length ? out : [lo, hi];
  }

  function seriesLine(g, x, y, series, values, color, dash) {
    var d = "", pen = false;
    values.forEach(function (v, i) {
      if (v === null) { pen = false; return; }
      var px = x(series.start + (i + 0.5) * series.width), py = y(v);
      d += (pen ? "L" : "M") + px.toFixed(1) + " " + py.toFixed(1);
      pen = true;
    });
    if (d) el("path", {d: d, fill: "none", stroke: color, "stroke-width": 1.8, "stroke-dasharray": dash || "none"}, g);
  }

  function drawLatency(container, tl, series, width) {
    var points = tl.ops.filter(function (op) { return op[3] === 0 && op[6] !== null; });
    var all = points.map(function (op) { return op[6]; })
      .concat(series.p50.filter(function (v) { return v !== null; }), series.p99.filter(function (v) { return v !== null; }));
    if (!all.length) {
      var p = document.createElement("p");
      p.className = "muted";
      p.textContent = "No operation completed ok, so there is no latency to show.";
      container.appendChild(p);
      return;
    }
    var positive = all.filter(function (v) { return v > 0; });
    var lo = positive.length ? Math.min.apply(null, positive) : 0.01, hi = Math.max.apply(null, all);
    lo = Math.pow(10, Math.floor(Math.log10(lo))); hi = Math.pow(10, Math.ceil(Math.log10(Math.max(hi, lo * 10))));
    var legendItems = tl.fs.map(function (f, n) { return {label: f, color: F_COLOR[n % F_COLOR.length], dot: true}; });
    legend(container, legendItems.concat([{label: "p50 per bin", color: "#57606a"}, {label: "p99 per bin", color: "#1f2328"}]));
    var top = 10, plotH = 200, c = newSvg(container, width, top + plotH + 26), g = c.svg, x = xScale(tl, c.width);
    var y = function (v) { return top + plotH - (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) * plotH; };
    yAxis(g, y, logTicks(lo, hi), "latency (ms)", c.width, fmt);
    xAxis(g, x, top + plotH, top);
    faultBands(g, x, tl.windows, top, top + plotH);
    points.forEach(function (op) {
      var dot = el("circle", {cx: x(op[1]), cy: y(op[6]), r: op[5] ? 3.5 : 1.8,
        fill: F_COLOR[op[4] % F_COLOR.length], "fill-opacity": op[5] ? 1 : 0.55}, g);
      if (op[5]) { dot.setAttribute("stroke", "#000"); dot.setAttribute("stroke-width", 1.5); }
      el("title", {}, dot, op[7]);
    });
    seriesLine(g, x, y, series, series.p50, "#57606a", "5 3");
    seriesLine(g, x, y, series, series.p99, "#1f2328");
  }

  function drawThroughput(container, tl, series, width) {
    legend(container, [{label: "ok per second", color: TYPE_COLOR[0]}, {label: "fail per second", color: TYPE_COLOR[1]},
      {label: "info per second", color: TYPE_COLOR[2]}]);
    var hi = Math.max.apply(null, [1].concat(series.ok, series.fail, series.info));
    var yt = ticks(0, hi, 5);
    hi = Math.max(hi, yt[yt.length - 1]);
    var top = 10, plotH = 150, c = newSvg(container, width, top + plotH + 26), g = c.svg, x = xScale(tl, c.width);
    var y = function (v) { return top + plotH - v / hi * plotH; };
    yAxis(g, y, yt, "ops/s", c.width, fmt);
    xAxis(g, x, top + plotH, top);
    faultBands(g, x, tl.windows, top, top + plotH);
    [["info", 2], ["fail", 1], ["ok", 0]].forEach(function (pair) {
      var values = series[pair[0]], d = "";
      values.forEach(function (v, i) {
        var x0 = x(series.start + i * series.width), x1 = x(Math.min(series.start + (i + 1) * series.width, x.hi));
        d += (i === 0 ? "M" : "L") + x0.toFixed(1) + " " + y(v).toFixed(1) + "L" + x1.toFixed(1) + " " + y(v).toFixed(1);
      });
      var path = el("path", {d: d, fill: "none", stroke: TYPE_COLOR[pair[1]], "stroke-width": 1.8}, g);
      el("title", {}, path, pair[0] + " completions per second (bins of " + fmt(series.width) + " s)");
    });
  }

  var data = JSON.parse(document.getElementById("sdconform-data").textContent);
  var errors = [];
  var width = Math.max(640, document.querySelector("main").clientWidth || 1000);
  Object.keys(data).forEach(function (anchor) {
    var section = document.getElementById(anchor), chart = data[anchor];
    if (!section || !chart) return;
    try {
      drawTimeline(section.querySelector(".chart-timeline"), chart.timeline, width);
      drawLatency(section.querySelector(".chart-latency"), chart.timeline, chart.series, width);
      drawThroughput(section.querySelector(".chart-throughput"), chart.timeline, chart.series, width);
    } catch (e) {
      errors.push(e);
      console.error("sdconform: the charts of " + anchor + " could not be drawn:", e);
      var p = document.createElement("p");
      p.className = "chart-error";
      p.textContent = "The charts of this case could not be drawn: " + e;
      section.appendChild(p);
    }
  });
  // Set last, so its presence proves the script ran to the end (the browser test reads it).
  document.body.setAttribute("data-rendered", errors.length ? "error" : "true");
})();
