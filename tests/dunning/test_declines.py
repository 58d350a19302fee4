"""The decline table: one table for the retry rules, the buyer's words and the staff view."""

import pytest

from dunning.declines import DECLINE_TABLE, Category, NextStep, decline_classify

HARD = [
    "stolen_card", "lost_card", "pickup_card", "fraudulent", "incorrect_number",
    "revocation_of_authorization", "revocation_of_all_authorizations",
    "transaction_not_allowed", "highest_risk_level",
]  # fmt: skip
CUSTOMER_ACTION = [
    "expired_card",
    "incorrect_cvc",
    "authentication_required",
    "card_velocity_exceeded",
]
SOFT = ["insufficient_funds", "processing_error", "try_again_later", "issuer_not_available",
        "generic_decline"]  # fmt: skip


@pytest.mark.parametrize("code", HARD)
def test_hard_declines_are_never_retried_and_ask_for_another_method(code):
    rule = decline_classify(decline_code=code)
    assert (rule.category, rule.known, rule.retried) == (Category.HARD, True, False)
    assert rule.next_step == NextStep.OTHER_METHOD


@pytest.mark.parametrize("code", CUSTOMER_ACTION)
def test_customer_action_declines_wait_for_the_buyer(code):
    rule = decline_classify(decline_code=code)
    assert (rule.category, rule.retried) == (Category.CUSTOMER_ACTION, False)
    assert rule.next_step == NextStep.UPDATE_CARD


@pytest.mark.parametrize("code", SOFT)
def test_soft_declines_are_retried(code):
    rule = decline_classify(decline_code=code)
    assert (rule.category, rule.known, rule.retried) == (Category.SOFT, True, True)


def test_the_decline_code_wins_over_the_error_code_and_unknown_codes_are_soft_but_marked():
    # Stripe: code=card_declined with the issuer's decline_code.
    assert decline_classify(decline_code="stolen_card", failure_code="card_declined").category == (
        Category.HARD
    )
    # localstripe declines with card_declined and no decline code: a generic soft decline.
    generic = decline_classify(decline_code="", failure_code="card_declined")
    assert (generic.category, generic.known) == (Category.SOFT, True)
    # An error code alone (3DS failed on the payment page).
    assert decline_classify(failure_code="payment_intent_authentication_failure").category == (
        Category.CUSTOMER_ACTION
    )
    unknown = decline_classify(decline_code="brand_new_code_2027", failure_code="card_declined")
    assert (unknown.category, unknown.known, unknown.retried) == (Category.SOFT, False, True)
    assert "not in the table" in unknown.staff
    assert decline_classify().known is False


def test_every_rule_explains_itself_in_english_and_german_without_alarm():
    for code, rule in DECLINE_TABLE.items():
        assert rule.staff, code
        for language in ("en", "de"):
            words = rule.for_language(language)
            assert words.what_happened and words.what_to_do, (code, language)
            text = f"{words.what_happened} {words.what_to_do}".lower()
            for alarm in ("urgent", "immediately", "final warning", "legal", "sofort", "dringend"):
                assert alarm not in text, (code, language, alarm)
    # German is German, not a copy of the English.
    funds = DECLINE_TABLE["insufficient_funds"]
    assert funds.for_language("de").what_happened != funds.for_language("en").what_happened
    assert "Guthaben" in funds.for_language("de").what_happened
    assert funds.for_language("fr") == funds.for_language("en")
