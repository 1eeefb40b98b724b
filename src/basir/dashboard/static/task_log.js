// Basir dashboard: a running task's log panel follows the log over Server-Sent Events.
// The panel arrives with the end of the log and the byte offset after it (in the stream's
// URL); each `log` event appends whole lines, `end` closes the stream.  After a drop the
// browser reconnects by itself with Last-Event-ID, so nothing is lost or repeated.
(function () {
  "use strict";
  var current = null; // {source, pre}: one followed log per page

  function stop() {
    if (current) {
      current.source.close();
      current = null;
    }
  }

  function say(panel, key) {
    var follow = panel.querySelector(".log-follow");
    if (follow && follow.getAttribute("data-" + key)) {
      follow.textContent = follow.getAttribute("data-" + key);
    }
  }

  // Keep only the end of a long log on screen: the page holds what it shows, no more.
  function trim(panel, pre) {
    var keep = parseInt(pre.getAttribute("data-keep"), 10) || 65536;
    var text = pre.textContent;
    if (text.length <= keep) {
      return;
    }
    var cut = text.indexOf("\n", text.length - keep);
    pre.textContent = text.slice(cut < 0 ? text.length - keep : cut + 1);
    var hint = panel.querySelector(".log-cut");
    if (hint) {
      hint.hidden = false;
    }
  }

  function follow(pre) {
    var panel = pre.closest("#task-log");
    var source = new window.EventSource(pre.getAttribute("data-stream"));
    current = { source: source, pre: pre };
    source.addEventListener("open", function () {
      say(panel, "following");
    });
    source.addEventListener("log", function (event) {
      var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      pre.appendChild(document.createTextNode(event.data + "\n"));
      trim(panel, pre);
      if (atEnd) {
        pre.scrollTop = pre.scrollHeight;
      }
    });
    source.addEventListener("end", function () {
      source.close();
      if (current && current.source === source) {
        current = null;
      }
      pre.removeAttribute("data-stream");
      say(panel, "ended");
    });
    source.addEventListener("error", function () {
      if (source.readyState !== window.EventSource.CLOSED) {
        say(panel, "lost"); // the browser is reconnecting
      }
    });
  }

  function scan() {
    if (current && !document.contains(current.pre)) {
      stop(); // the panel was replaced (another task's log, or this one re-read)
    }
    var pre = document.querySelector("#task-log pre[data-stream]");
    if (pre && window.EventSource && (!current || current.pre !== pre)) {
      stop();
      pre.scrollTop = pre.scrollHeight;
      follow(pre);
    }
  }

  document.addEventListener("htmx:load", scan);
  document.addEventListener("htmx:afterSettle", scan);
  window.addEventListener("pagehide", stop);
  scan();
})();
