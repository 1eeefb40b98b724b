// Basir dashboard: the run form checks each typed param before it is sent, with the rules the
// server applies (basir.spec.values.coerce_text), and shows what is wrong beside the field.
// The messages come with the page, already in its language; the server still checks again.
(function () {
  "use strict";
  var form = document.getElementById("run-form");
  if (!form) {
    return;
  }
  var INTEGER = /^\s*[-+]?\d+\s*$/;
  var NUMBER = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

  // Python's int() and float() read Arabic-Indic digits too (an Arabic keyboard types them).
  function ascii(text) {
    return text.replace(/[\u0660-\u0669\u06F0-\u06F9]/g, function (digit) {
      return String((digit.charCodeAt(0) & 0xf) % 10);
    });
  }

  function fits(kind, raw) {
    var text = kind === "integer" || kind === "number" ? ascii(raw) : raw;
    if (kind === "integer") {
      return INTEGER.test(text);
    }
    if (kind === "number") {
      return NUMBER.test(text) && isFinite(parseFloat(text));
    }
    if (kind === "array" || kind === "object") {
      var value;
      try {
        value = JSON.parse(text);
      } catch (e) {
        return false;
      }
      var list = Array.isArray(value);
      return kind === "array" ? list : value !== null && typeof value === "object" && !list;
    }
    return true;
  }

  function problem(input) {
    var text = input.value;
    if (text.trim() === "") {
      return input.hasAttribute("data-required") ? input.getAttribute("data-required") : null;
    }
    return fits(input.getAttribute("data-type"), text) ? null : input.getAttribute("data-invalid");
  }

  function show(input, message) {
    var field = input.closest(".field");
    var id = input.id + "-error";
    var note = document.getElementById(id);
    if (!message) {
      if (note) {
        note.remove();
      }
      field.classList.remove("invalid");
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
      return;
    }
    if (!note) {
      note = document.createElement("small");
      note.className = "error";
      note.id = id;
      note.setAttribute("role", "alert");
      field.appendChild(note);
    }
    note.textContent = message;
    field.classList.add("invalid");
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
  }

  var inputs = form.querySelectorAll("input[data-type]");
  form.addEventListener("submit", function (event) {
    var first = null;
    inputs.forEach(function (input) {
      var message = problem(input);
      show(input, message);
      if (message && !first) {
        first = input;
      }
    });
    if (first) {
      event.preventDefault();
      first.focus();
    }
  });
  inputs.forEach(function (input) {
    input.addEventListener("input", function () {
      if (input.hasAttribute("aria-invalid") && !problem(input)) {
        show(input, null);
      }
    });
  });
})();
