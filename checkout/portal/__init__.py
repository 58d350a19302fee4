"""The customer portal: the buyer's page by magic link (/account/<token>/).

- `services`: the magic links and the portal's writes (save a card, pay a balance);
- `selectors`: what the page shows, in plain words;
- `views` and `urls`: thin views over those two.
"""
