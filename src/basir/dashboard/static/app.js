// Basir dashboard: after the page's live stream reconnects, re-fetch what may have changed.
(function () {
  "use strict";
  var opens = 0;
  document.addEventListener("htmx:sseOpen", function () {
    opens += 1;
    if (opens > 1 && window.htmx) {
      window.htmx.trigger(document.body, "resync");
    }
  });
})();
