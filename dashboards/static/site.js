/* Second Look: "show all rows" for long tables; every section opens before printing. No data here. */
(function () {
  function toggle(button) {
    var table = button.previousElementSibling && button.previousElementSibling.querySelector("table.folded");
    if (!table) return;
    var open = table.classList.toggle("open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = open ? "Show fewer rows" : "Show all " + Number(button.dataset.rows).toLocaleString("en-US") + " rows";
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.show-all");
    if (button) toggle(button);
  });
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
    document.querySelectorAll("table.folded").forEach(function (t) { t.classList.add("open"); });
  });
})();
