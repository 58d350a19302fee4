// Progressive enhancement for the lead form. Without this file the form still works: the
// server validates and shows the same messages.
(function () {
  "use strict";
  var form = document.querySelector("[data-lead-form]");
  if (!form) return;

  var messages = {
    email: {
      valueMissing: "Tell us your email address so we can reply.",
      typeMismatch: "Enter an email address like name@example.com.",
    },
    name: { valueMissing: "Tell us your name so we know who to ask for." },
    consent_terms: {
      valueMissing: "Tick this box to agree to the terms, so we can reply to you.",
    },
    phone: {
      patternMismatch: "Enter a phone number we can call, e.g. +44 20 7946 0958.",
    },
  };

  function errorList(input) {
    return document.getElementById(input.id + "_error");
  }

  function show(input) {
    var list = errorList(input);
    if (!list) return true;
    var text = "";
    if (!input.validity.valid) {
      var known = messages[input.name] || {};
      for (var key in known) {
        if (input.validity[key]) { text = known[key]; break; }
      }
      text = text || input.validationMessage;
    }
    list.innerHTML = "";
    if (text) {
      var item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
    input.closest(".field").classList.toggle("field--error", Boolean(text));
    return !text;
  }

  var phone = form.querySelector("input[name=phone]");
  // Patterns compile with the regexp v flag: ( ) and - are escaped inside the class.
  if (phone) phone.setAttribute("pattern", "[0-9 +\\(\\)\\.\\-]{6,32}");

  // Our own inline messages replace the browser's bubbles.
  form.noValidate = true;
  var inputs = form.querySelectorAll("input:not([type=hidden]):not([name=website]), select");
  Array.prototype.forEach.call(inputs, function (input) {
    input.addEventListener("blur", function () { if (input.value) show(input); });
    input.addEventListener("change", function () { show(input); });
  });

  var summary = document.getElementById("form-errors");
  if (summary) summary.focus();

  var referrer = form.querySelector("input[name=referrer]");
  if (referrer && !referrer.value && document.referrer) referrer.value = document.referrer;

  form.addEventListener("submit", function (event) {
    var firstBad = null;
    Array.prototype.forEach.call(inputs, function (input) {
      if (!show(input) && !firstBad) firstBad = input;
    });
    if (firstBad) {
      event.preventDefault();
      firstBad.focus();
      return;
    }
    var button = form.querySelector("[data-submit]");
    if (button) {
      // One submission per press: a double tap on a phone must not send twice.
      button.disabled = true;
      button.textContent = "Sending…";
    }
  });
})();
