"""The customer portal: the buyer's page by magic link (/account/<token>/).

- `links`: the magic links (signed tokens, the email that sends one, the request limits);
- `services`: the portal's writes (save a card, pay a balance);
- `selectors`: what the page shows, in plain words;
- `views` and `urls`: thin views over those two.
"""
