// Progressive enhancements; every page works without them.
// Print buttons: shown only where a script may run, they open the browser's print dialog.
document.querySelectorAll("button[data-print]").forEach(function (b) {
  b.hidden = false;
  b.addEventListener("click", function () { window.print(); });
});
