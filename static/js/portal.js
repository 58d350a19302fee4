// Customer portal. The card update reuses PortalCard (static/js/checkout.js) in saveOnly mode:
// SetupIntent + confirmCardSetup, then the card is saved on our side. A balance payment that
// needs the bank's check (3DS) is finished here with confirmCardPayment.
(function () {
  "use strict";
  if (typeof Stripe === "undefined") { return; }

  var form = document.getElementById("card-form");
  if (form && window.PortalCard) {
    window.PortalCard.mount(form, {
      saveOnly: true,
      onDone: function () { window.location.reload(); }
    });
  }

  var check = document.getElementById("bank-check");
  if (check) {
    var stripe = Stripe(form ? form.dataset.publishableKey : "");
    var start = document.getElementById("bank-check-start");
    var status = document.getElementById("bank-check-status");
    var run = function () {
      start.disabled = true;
      status.textContent = "Waiting for your bank…";
      stripe.confirmCardPayment(check.dataset.clientSecret).then(function () {
        // Whatever the browser says, the server asks Stripe and shows the outcome.
        document.getElementById("bank-check-form").submit();
      });
    };
    start.addEventListener("click", run);
    run();
  }
})();
