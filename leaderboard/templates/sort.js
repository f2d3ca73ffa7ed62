(function () {
  var table = document.getElementById("leaderboard");
  if (!table) { return; }
  var heads = table.tHead.rows[0].cells;
  function value(row, index, type) {
    var raw = row.cells[index].getAttribute("data-value");
    if (raw === null || raw === "") { return null; }
    return type === "number" ? parseFloat(raw) : raw.toLowerCase();
  }
  function sortBy(index) {
    var head = heads[index], type = head.getAttribute("data-type");
    var current = head.getAttribute("aria-sort");
    var ascending = current ? current !== "ascending" : type === "text" || index === 0;
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a, index, type), y = value(b, index, type);
      if (x === null || y === null) { return x === y ? 0 : (x === null ? 1 : -1); }
      var order = x < y ? -1 : (x > y ? 1 : 0);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    for (var i = 0; i < heads.length; i++) { heads[i].removeAttribute("aria-sort"); }
    head.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  for (var i = 0; i < heads.length; i++) {
    heads[i].addEventListener("click", sortBy.bind(null, i));
  }
})();
