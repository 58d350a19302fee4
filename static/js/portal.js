// Customer portal: update the saved card (SetupIntent + confirmCardSetup) and finish a balance
// payment when the bank asks for its check (confirmCardPayment). Works with Stripe.js and with
// localstripe's stand-in, which offers only the Card Element.
(function () {
  "use strict";

  function csrf(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function post(url, token, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token},
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw new Error(data.error || "Something went wrong. Please try again."); }
        return data;
      });
    });
  }

  var form = document.getElementById("card-form");
  if (!form || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  var status = document.getElementById("card-status");
  var button = document.getElementById("card-submit");

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    status.textContent = "Saving your card…";
    var token = csrf(form);
    post(form.dataset.setupUrl, token)
      .then(function (data) {
        return stripe.confirmCardSetup(data.client_secret, {payment_method: {card: card}});
      })
      .then(function (result) {
        if (result.error) { throw new Error(result.error.message || "Your card could not be saved."); }
        var pm = result.setupIntent.payment_method;
        return post(form.dataset.saveUrl, token, {payment_method_id: typeof pm === "string" ? pm : pm.id});
      })
      .then(function (saved) {
        status.textContent = "Card saved: " + saved.brand + " ending " + saved.last4 + ".";
        window.location.reload();
      })
      .catch(function (error) {
        status.textContent = error.message + " Please check the card details and try again.";
        button.disabled = false;
      });
  });

  var check = document.getElementById("bank-check");
  if (check) {
    var start = document.getElementById("bank-check-start");
    var checkStatus = document.getElementById("bank-check-status");
    var run = function () {
      start.disabled = true;
      checkStatus.textContent = "Waiting for your bank…";
      stripe.confirmCardPayment(check.dataset.clientSecret).then(function () {
        // Whatever the bank said, the server asks Stripe and shows the outcome.
        document.getElementById("bank-check-form").submit();
      });
    };
    start.addEventListener("click", run);
    run();
  }
})();
