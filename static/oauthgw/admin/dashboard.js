// The 24-hour chart of the admin index and of a client's page: issued, failed and
// throttled token requests per hour as stacked SVG bars ("failed" counts the
// throttled ones; they are drawn apart). No library: the data is 24 triples.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 720, HEIGHT = 180, LEFT = 34, BOTTOM = 20, TOP = 8;

  function element(name, attributes, text) {
    const node = document.createElementNS(SVG, name);
    Object.entries(attributes).forEach(function ([key, value]) { node.setAttribute(key, value); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function niceMax(value) {
    if (value <= 4) return 4;
    const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    const steps = [1, 2, 2.5, 5, 10].map(function (step) { return step * magnitude; });
    return steps.find(function (step) { return step >= value; }) || 10 * magnitude;
  }

  function draw(container, hours) {
    const max = niceMax(Math.max(0, ...hours.map(function (h) { return h.issued + h.failed; })));
    const plotWidth = WIDTH - LEFT, plotHeight = HEIGHT - BOTTOM - TOP;
    const slot = plotWidth / hours.length, barWidth = Math.max(2, slot * 0.7);
    const scale = function (n) { return (n / max) * plotHeight; };
    const svg = element("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, "aria-hidden": "true" });

    [0, max / 2, max].forEach(function (tick) {
      const y = TOP + plotHeight - scale(tick);
      svg.appendChild(element("line", { x1: LEFT, x2: WIDTH, y1: y, y2: y, class: "gw-axis" }));
      svg.appendChild(element("text", { x: LEFT - 4, y: y + 3, "text-anchor": "end", class: "gw-tick" }, String(tick)));
    });

    hours.forEach(function (hour, index) {
      const x = LEFT + index * slot + (slot - barWidth) / 2;
      const throttled = hour.throttled || 0;
      const base = TOP + plotHeight;
      const label = `${hour.start.slice(11, 16)} UTC: ${hour.issued} issued, ${hour.failed} failed (${throttled} throttled)`;
      const group = element("g", {});
      group.appendChild(element("title", {}, label));
      let top = base;
      [[hour.issued, "gw-bar-ok"], [hour.failed - throttled, "gw-bar-bad"], [throttled, "gw-bar-warn"]].forEach(
        function ([count, name]) {
          const height = scale(count);
          top -= height;
          group.appendChild(element("rect", { x: x, y: top, width: barWidth, height: height, class: name }));
        }
      );
      svg.appendChild(group);
      if (index % 3 === 0) {
        svg.appendChild(element("text", { x: x + barWidth / 2, y: HEIGHT - 6, "text-anchor": "middle", class: "gw-tick" },
          hour.start.slice(11, 13) + "h"));
      }
    });
    container.replaceChildren(svg);
  }

  const data = document.getElementById("gw-chart-data");
  const container = document.getElementById("gw-chart");
  if (data && container) draw(container, JSON.parse(data.textContent).hours);
})();
