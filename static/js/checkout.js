/*
 * PortalCard: pay with a card through Stripe.js (or localstripe's stand-in), the flow both
 * support (DESIGN.md §2). Card data goes from the browser to Stripe only.
 *
 *   1. POST setupUrl                       -> {client_secret}       (a SetupIntent, off_session)
 *   2. stripe.confirmCardSetup(secret, {payment_method: {card}})   -> setupIntent.payment_method
 *   3. POST payUrl {payment_method, setup_intent}  -> Outcome
 *   4. if Outcome.status == "requires_action":
 *        stripe.confirmCardPayment(Outcome.client_secret)  (the bank's 3DS check)
 *        POST statusUrl                    -> Outcome      (the server retrieves the intent)
 *
 * Outcome (JSON from the server): {status, message?, client_secret?, next_url?, restart_url?}
 *   status: succeeded | authorized | processing | unknown -> go to next_url (or onDone)
 *           failed | blocked | error                      -> show message; the buyer can retry
 *                                                           (a new SetupIntent each time)
 *
 * Markup (auto-mounted for every <form data-portal-card>):
 *   <form data-portal-card data-publishable-key data-setup-url data-pay-url data-status-url
 *         data-csrf-token>
 *     <div data-card-element></div> <div data-card-errors role="alert"></div>
 *     <p data-card-status role="status"></p> <button data-card-submit>Pay</button>
 *   </form>
 *
 * Programmatic use (e.g. the portal's "update card" or "pay balance"):
 *   const flow = PortalCard.mount(formElement, {
 *     publishableKey, setupUrl, payUrl, statusUrl, csrfToken,   // default: the data-* attributes
 *     saveOnly: false,        // true: stop after step 2 and POST {payment_method, setup_intent} to payUrl,
 *                             // expecting {status: "saved"} (update card)
 *     onDone(outcome) {},     // default: location.assign(outcome.next_url)
 *   });
 *   flow.destroy();
 */
(function (global) {
  "use strict";

  var MESSAGES = {
    card_declined: "Your bank declined this card. Nothing was charged. Try another card, or ask your bank why.",
    expired_card: "This card has expired. Nothing was charged. Try another card.",
    incorrect_cvc: "The security code (CVC) did not match. Check the 3 digits on the back of the card.",
    incorrect_number: "The card number is not right. Check it and try again.",
    invalid_number: "The card number is not right. Check it and try again.",
    invalid_expiry_month: "The expiry month is not right. Use two digits, e.g. 04.",
    invalid_expiry_year: "The expiry year is not right. Use two digits, e.g. 29.",
    incomplete_number: "The card number is incomplete.",
    authentication_failed: "Your bank's check was not completed, so nothing was charged. Try again and approve it, or use another card.",
    network: "We could not reach the payment service. Check your connection and try again; nothing was charged.",
    generic: "The card could not be used and nothing was charged. Check the details or try another card."
  };
  var BUSY = {
    saving: "Checking your card with your bank…",
    paying: "Taking the payment…",
    verifying: "Waiting for your bank's check…",
    done: "Done. Taking you to your confirmation…"
  };

  function errorMessage(error) {
    if (!error) { return MESSAGES.generic; }
    var code = error.decline_code || error.code || "";
    if (MESSAGES[code]) { return MESSAGES[code]; }
    if (/authenticat/i.test(error.message || "")) { return MESSAGES.authentication_failed; }
    return MESSAGES.generic;
  }

  function mount(form, options) {
    options = options || {};
    var data = form.dataset;
    var cfg = {
      publishableKey: options.publishableKey || data.publishableKey,
      setupUrl: options.setupUrl || data.setupUrl,
      payUrl: options.payUrl || data.payUrl,
      statusUrl: options.statusUrl || data.statusUrl,
      csrfToken: options.csrfToken || data.csrfToken,
      saveOnly: !!options.saveOnly,
      onDone: options.onDone || function (outcome) {
        if (outcome.next_url) { global.location.assign(outcome.next_url); }
      }
    };
    var errors = form.querySelector("[data-card-errors]");
    var status = form.querySelector("[data-card-status]");
    var button = form.querySelector("[data-card-submit]");
    var stripe = global.Stripe(cfg.publishableKey);
    var card = stripe.elements().create("card");
    var container = form.querySelector("[data-card-element]");
    card.mount(container);
    labelPlainInputs(container);
    var busy = false;

    function show(message) { errors.textContent = message || ""; }
    function say(message) { status.textContent = message || ""; }
    function setBusy(value) { busy = value; button.disabled = value; button.setAttribute("aria-busy", value ? "true" : "false"); }

    function post(url, body) {
      return global.fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": cfg.csrfToken },
        body: JSON.stringify(body || {})
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (json) {
          if (!response.ok && !json.status) { json.status = "error"; }
          return json;
        });
      }, function () { return { status: "error", message: MESSAGES.network }; });
    }

    function finish(outcome) {
      if (["succeeded", "authorized", "processing", "unknown", "saved"].indexOf(outcome.status) >= 0) {
        say(BUSY.done);
        cfg.onDone(outcome);
        return;
      }
      if (outcome.status === "requires_action" && outcome.client_secret) {
        say(BUSY.verifying);
        return stripe.confirmCardPayment(outcome.client_secret).then(function () {
          // Whatever the browser says, the server asks Stripe and decides.
          return post(cfg.statusUrl).then(finish);
        });
      }
      say("");
      show(outcome.message || MESSAGES.generic);
      if (outcome.restart_url) {
        var link = document.createElement("a");
        link.href = outcome.restart_url; link.textContent = " Start again.";
        errors.appendChild(link);
      }
      setBusy(outcome.status === "blocked");
    }

    function onSubmit(event) {
      event.preventDefault();
      if (busy) { return; }
      setBusy(true); show(""); say(BUSY.saving);
      post(cfg.setupUrl).then(function (setup) {
        if (!setup.client_secret) { return finish(setup); }
        return stripe.confirmCardSetup(setup.client_secret, { payment_method: { card: card } })
          .then(function (result) {
            if (result.error || !result.setupIntent) {
              say(""); show(errorMessage(result.error)); setBusy(false);
              return;
            }
            var pm = result.setupIntent.payment_method;
            if (pm && typeof pm === "object") { pm = pm.id; }
            say(cfg.saveOnly ? BUSY.saving : BUSY.paying);
            // The server accepts only the card this SetupIntent saved, and checks it with Stripe.
            return post(cfg.payUrl, { payment_method: pm, setup_intent: result.setupIntent.id })
              .then(finish);
          });
      }).catch(function () { say(""); show(MESSAGES.network); setBusy(false); });
    }

    form.addEventListener("submit", onSubmit);
    return {
      destroy: function () { form.removeEventListener("submit", onSubmit); card.unmount(); }
    };
  }

  // localstripe's stand-in renders bare inputs with only a placeholder: give them names a
  // screen reader can announce and the right keyboards on phones. Real Stripe uses an iframe.
  function labelPlainInputs(container) {
    var labels = {
      number: ["Card number", "cc-number"], exp_month: ["Expiry month (MM)", "cc-exp-month"],
      exp_year: ["Expiry year (YY)", "cc-exp-year"], cvc: ["Security code (CVC)", "cc-csc"],
      postal_code: ["Postcode", "postal-code"]
    };
    Array.prototype.forEach.call(container.querySelectorAll("input[placeholder]"), function (input) {
      var entry = labels[input.getAttribute("placeholder")];
      if (!entry) { return; }
      input.setAttribute("aria-label", entry[0]);
      input.setAttribute("autocomplete", entry[1]);
      if (entry[1] !== "postal-code") { input.setAttribute("inputmode", "numeric"); }
    });
  }

  global.PortalCard = { mount: mount, errorMessage: errorMessage };
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-portal-card]"), function (form) {
      mount(form);
    });
  });
})(window);
