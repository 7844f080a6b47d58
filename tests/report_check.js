// Injected by tests/e2e_report.sh into a copy of the report (never part of
// the report itself): checks in the browser that every figure rendered and
// that no two texts of a figure overlap, then writes the result into the
// DOM, which chromium --dump-dom prints.
(function () {
  var out = {figures: 0, empty: [], small: [], overlaps: [], errors: window.__qlensErrors || [],
             resources: performance.getEntriesByType('resource').length, texts: 0};
  var figs = document.querySelectorAll('svg.fig');
  out.figures = figs.length;
  function hit(a, b) {
    var w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    var h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    return w > 0.5 && h > 0.5 ? w * h : 0;
  }
  for (var i = 0; i < figs.length; i++) {
    var f = figs[i], r = f.getBoundingClientRect();
    if (!(r.width > 50 && r.height > 50)) out.empty.push(f.id || String(i));
    if (f.querySelectorAll('*').length < 20) out.small.push(f.id || String(i));
    var t = f.querySelectorAll('text'), boxes = [];
    for (var k = 0; k < t.length; k++) {
      var b = t[k].getBoundingClientRect();
      if (b.width > 0 && b.height > 0) boxes.push([b, t[k].textContent]);
      else out.empty.push((f.id || i) + ': text "' + t[k].textContent + '"');
    }
    out.texts += boxes.length;
    for (var x = 0; x < boxes.length; x++)
      for (var y = 0; y < x; y++) {
        // glyph boxes include line gap: allow a sliver of 6 px² between neighbours
        if (hit(boxes[x][0], boxes[y][0]) > 6)
          out.overlaps.push((f.id || i) + ': "' + boxes[x][1] + '" / "' + boxes[y][1] + '"');
      }
  }
  var pre = document.createElement('pre');
  pre.id = 'qlens-check';
  pre.textContent = 'QLENS-CHECK ' + JSON.stringify(out) + ' QLENS-END';
  document.body.appendChild(pre);
})();
