"""Partial texts → append-only deltas (routes/realtime/base.py)."""

from __future__ import annotations

from voxtral_gateway.routes.realtime.base import DeltaText


def test_words_go_out_once_two_partials_agree_and_the_final_completes_them():
    deltas = DeltaText()
    assert deltas.partial(1, "it is go") == ""  # a first guess is not sent
    assert deltas.partial(1, "It is going to") == ""  # "it" ≠ "It": no agreement yet
    assert deltas.partial(1, "It is going to rain") == "It is going to"
    assert deltas.partial(1, "It is going to rain this") == " rain"
    assert deltas.final(1, "It is going to rain this afternoon.") == " this afternoon."


def test_a_final_that_disagrees_with_what_was_sent_adds_nothing():
    deltas = DeltaText()
    deltas.partial(2, "the sky is")
    assert deltas.partial(2, "the sky is clear") == "the sky is"
    assert deltas.final(2, "The sky's clear.") == ""
    assert deltas.final(2, "anything") == "anything"  # the segment was forgotten


def test_case_and_punctuation_do_not_count_as_disagreement_for_the_final():
    deltas = DeltaText()
    deltas.partial(3, "thank you very")
    assert deltas.partial(3, "thank you very much") == "thank you very"
    assert deltas.final(3, "Thank you, very much for your help.") == " much for your help."


def test_segments_are_independent():
    deltas = DeltaText()
    deltas.partial(1, "a b c")
    deltas.partial(2, "x y z")
    assert deltas.partial(1, "a b c d") == "a b c"
    assert deltas.partial(2, "x y q") == "x y"


def test_a_growing_text_sends_every_word_but_the_last_at_once():
    deltas = DeltaText()
    assert deltas.partial(4, "It", growing=True) == ""  # may still become "Its"
    assert deltas.partial(4, "It is go", growing=True) == "It is"
    assert deltas.partial(4, "It is going to", growing=True) == " going"
    assert deltas.final(4, "It is going to rain.") == " to rain."
