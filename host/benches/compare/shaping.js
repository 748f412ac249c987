// The JSON-shaping workload of `just bench-compare`, shared by the floh
// script connector and the workerd peer: a 2.9 KB catalogue built at top
// level, parsed, filtered, mapped and serialized on every call.
var CATALOG = (function () {
  var items = [];
  for (var i = 0; i < 40; i++) {
    items.push({ id: 'sku-' + i, name: 'item number ' + i, price: i * 3 + 0.99, qty: i % 7, active: i % 3 !== 0 });
  }
  return JSON.stringify({ items: items });
})();

function shape(items) {
  return items
    .filter(function (item) { return item.active && item.qty > 0; })
    .map(function (item) {
      return { id: item.id, label: item.name.toUpperCase(), total: Math.round(item.price * item.qty * 100) / 100 };
    });
}

function report() {
  var lines = shape(JSON.parse(CATALOG).items);
  var body = JSON.stringify(lines);
  return { success: true, data: { lines: lines.length, bytes: body.length, first: lines[0] } };
}
