"""Embedded default corpus: synthetic, deterministically generated tweets.

The Trax sentiment tutorial trains on a file of ``text,label`` lines. So that
``python -m train.sentiment`` runs offline with no download, this module
*generates* a corpus of short English "tweets" labelled 0 (negative) or
1 (positive). It is synthetic data, not real tweets: sentences are assembled
from hand-written word lists and templates in this file.

The sentiment is learnable from the words (positive vs negative adjectives,
verbs, emoji, ratings), but not trivially: some clauses are negated
("not boring"), many tweets contrast a second clause of the opposite
sentiment ("... but the seat was awful"), some emoji are sarcastic and a few
labels are flipped. A bag-of-words model reaches roughly 85-90% accuracy.

Texts never contain commas or newlines (the tutorial reader splits lines on
``','``). Lengths vary: about two thirds of the tweets are at most 30 subword
tokens long with Trax's ``en_8k.subword`` vocabulary, the rest are longer
(the tutorial's ``FilterByLength(30)`` drops those).

Determinism: every draw goes through ``random.Random(seed).random()``, whose
output for a given seed Python guarantees across versions (unlike
``choice``/``shuffle`` or NumPy's ``Generator`` streams), so the same seed
gives the same corpus everywhere. The global RNGs are never touched.
"""

import os
import random

DEFAULT_TRAIN_SIZE = 20000
DEFAULT_EVAL_SIZE = 1000
DEFAULT_TRAIN_SEED = 271828
DEFAULT_EVAL_SEED = 314159

# --- Vocabulary (written for this project) --------------------------------

_DETERMINERS = ["the", "my", "this", "our", "that", "their", "The", "My",
                "This"]
_NOUNS = [
    "movie", "film", "flight", "hotel", "pizza", "coffee", "concert", "show",
    "album", "phone", "laptop", "app", "update", "service", "staff", "waiter",
    "burger", "book", "game", "trailer", "playlist", "podcast", "train ride",
    "delivery", "crew", "seat", "screen", "battery", "camera", "ending",
    "soundtrack", "sequel", "menu", "room", "weekend", "trip", "lecture",
    "haircut", "gym class", "bus", "sandwich", "episode", "headphones",
    "keyboard", "museum", "ramen", "croissant", "dentist visit", "café",
]
_LINKS = ["was", "is", "felt", "looked", "seemed", "sounded", "tasted",
          "turned out", "has been", "got", "was just", "is honestly"]
_INTENSIFIERS = ["really", "so", "very", "pretty", "super", "totally",
                 "absolutely", "kind of", "quite", "incredibly", "a bit",
                 "truly", "way too"]
_POS_ADJ = [
    "great", "amazing", "awesome", "excellent", "wonderful", "lovely",
    "fantastic", "brilliant", "superb", "delightful", "perfect", "enjoyable",
    "charming", "pleasant", "smooth", "friendly", "helpful", "beautiful",
    "impressive", "solid", "cozy", "tasty", "fun", "refreshing",
    "outstanding", "epic", "sweet", "gorgeous", "relaxing", "flawless",
]
_NEG_ADJ = [
    "awful", "terrible", "horrible", "dreadful", "disappointing", "boring",
    "annoying", "broken", "rude", "slow", "bland", "painful", "mediocre",
    "useless", "frustrating", "noisy", "dirty", "overpriced", "messy",
    "clumsy", "lousy", "ugly", "stale", "buggy", "pathetic", "cramped",
    "soggy", "tedious", "awkward", "miserable",
]
_NEGATIONS = ["not", "never", "not at all", "hardly", "not even"]
_POS_VERBS = ["loved", "enjoyed", "adore", "really liked", "can recommend",
              "am obsessed with", "would rewatch", "treasure"]
_NEG_VERBS = ["hated", "regret", "can't stand", "want a refund for",
              "am done with", "gave up on", "could not finish", "dislike"]
_POS_CLOSERS = ["would go again", "highly recommend", "made my day",
                "best day ever", "so happy", "cannot wait for more",
                "thank you", "love it", "worth every penny", "yay"]
_NEG_CLOSERS = ["never again", "what a waste", "want my money back",
                "worst day ever", "avoid it", "so sad", "ugh",
                "not worth it", "fix this please", "smh"]
_FILLERS = ["today", "tonight", "again", "this morning", "last night", "lol",
            "tbh", "ngl", "honestly", "for real", "right now", "yesterday",
            "on monday", "with friends", "after work", "at the airport",
            "downtown", "finally", "as usual", "btw", "omg", "..."]
_MENTIONS = ["@united", "@delta", "@netflix", "@spotify", "@amazon",
             "@starbucks", "@uber", "@apple", "@nintendo", "@bestbuy",
             "@mom", "@jess_k", "@cityrail", "@pizzahut", "@dave99"]
_HASHTAGS = ["#monday", "#weekend", "#travel", "#foodie", "#movienight",
             "#mood", "#tbt", "#coffee", "#gaming", "#music", "#life"]
_POS_TAGS = ["#win", "#blessed", "#happy", "#goals"]
_NEG_TAGS = ["#fail", "#rant", "#annoyed", "#nope"]
_POS_EMOJI = ["😍", "😊", "🎉", "👍", "❤️", "🔥", "✨", "🙌", ":)", ":D"]
_NEG_EMOJI = ["😡", "😞", "👎", "💔", "😤", "🙄", "😩", ":(", ":/"]
_NEUTRAL_EMOJI = ["🤔", "☕", "🍕", "✈️", "📱", "🎬", "🎧", "🚀"]
_POS_RATINGS = ["10/10", "9/10", "5 stars", "A+", "100%", "5/5"]
_NEG_RATINGS = ["1/10", "2/10", "0 stars", "1 star", "F-", "1/5"]
_CONNECTORS = ["but", "and", "yet", "though", "also", "plus", "while",
               "and then", "meanwhile", "BUT"]
_PUNCT = ["!", "!!", "!!!", ".", "?", "...", "?!"]

# Probabilities of the knobs that make the task non-trivial.
_P_NEGATED = 0.15     # a clause says "not <opposite adjective>"
_P_CONTRAST = 0.3     # a secondary clause has the opposite sentiment
_P_SARCASTIC = 0.15   # an emoji of the opposite sentiment
_P_LABEL_NOISE = 0.03


class _Draw:
    """Sampling helpers built only on ``random.Random.random()``."""

    def __init__(self, seed):
        self._rng = random.Random(seed)

    def p(self, prob):
        return self._rng.random() < prob

    def pick(self, seq):
        return seq[int(self._rng.random() * len(seq))]

    def weighted(self, values, weights):
        x = self._rng.random() * sum(weights)
        for v, w in zip(values, weights):
            x -= w
            if x < 0:
                return v
        return values[-1]


def _clause(d, positive):
    """One clause whose meaning is ``positive`` (bool)."""
    negated = d.p(_P_NEGATED)
    # A negated clause uses the opposite word list: "not boring" is positive.
    words_positive = positive != negated
    subject = d.pick(_DETERMINERS) + " " + d.pick(_NOUNS)
    form = d.weighted(["adj", "verb"], [0.8, 0.2])
    if form == "verb" and not negated:
        verb = d.pick(_POS_VERBS if positive else _NEG_VERBS)
        return "I " + verb + " " + subject.lower()
    adjective = d.pick(_POS_ADJ if words_positive else _NEG_ADJ)
    parts = [subject, d.pick(_LINKS)]
    if negated:
        parts.append(d.pick(_NEGATIONS))
    if d.p(0.4):
        parts.append(d.pick(_INTENSIFIERS))
    parts.append(adjective)
    if d.p(0.25):
        parts.append(d.pick(_FILLERS))
    return " ".join(parts)


def _tweet(d, label):
    positive = label == 1
    n_clauses = d.weighted([1, 2, 3, 4, 5], [0.42, 0.3, 0.15, 0.09, 0.04])
    main = n_clauses - 1 if d.p(0.5) else 0  # clause carrying the label
    pieces = []
    if d.p(0.25):
        pieces.append(d.pick(_MENTIONS))
    # Contrasting clauses stay a minority so the label stays recoverable.
    contrasts_left = (n_clauses - 1) // 2 if n_clauses > 2 else 1
    for i in range(n_clauses):
        clause_positive = positive
        if i != main and contrasts_left and d.p(_P_CONTRAST):
            clause_positive = not positive
            contrasts_left -= 1
        if i > 0:
            pieces.append(d.pick(_CONNECTORS))
        pieces.append(_clause(d, clause_positive))
        if d.p(0.2):
            pieces.append(d.pick(_PUNCT))
    if d.p(0.1):
        pieces.append(d.pick(_POS_RATINGS if positive else _NEG_RATINGS))
    if d.p(0.12):
        pieces.append(d.pick(_POS_CLOSERS if positive else _NEG_CLOSERS))
    if d.p(0.35):
        emoji_positive = positive != d.p(_P_SARCASTIC)
        pieces.append(d.pick(_POS_EMOJI if emoji_positive else _NEG_EMOJI))
    elif d.p(0.1):
        pieces.append(d.pick(_NEUTRAL_EMOJI))
    if d.p(0.2):
        tags = _HASHTAGS + (_POS_TAGS if positive else _NEG_TAGS)
        pieces.append(d.pick(tags))
    words = " ".join(pieces).split(" ")
    if d.p(0.08):
        words = [w.upper() for w in words]
    elif d.p(0.25):
        k = d.pick(range(len(words)))
        words[k] = words[k].upper()
    return " ".join(words)


def synthetic_tweets(n, seed):
    """Returns ``n`` synthetic ``(text, label)`` pairs (label 0 or 1, int).

    Deterministic in ``seed``; labels are drawn 50/50 (then ~3% flipped as
    label noise). See the module docstring for what the data looks like.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    d = _Draw(seed)
    examples = []
    for _ in range(n):
        label = int(d.p(0.5))
        text = _tweet(d, label)
        if d.p(_P_LABEL_NOISE):
            label = 1 - label
        examples.append((text, label))
    return examples


def default_corpus():
    """The embedded default corpus: ``(train, eval)`` lists of pairs.

    ``DEFAULT_TRAIN_SIZE`` training and ``DEFAULT_EVAL_SIZE`` evaluation
    tweets from fixed seeds. Evaluation texts that also occur in the
    training split are skipped (short tweets can repeat), so eval accuracy
    measures generalisation.
    """
    train = synthetic_tweets(DEFAULT_TRAIN_SIZE, DEFAULT_TRAIN_SEED)
    seen = {text for text, _ in train}
    d_seed = DEFAULT_EVAL_SEED
    eval_examples = []
    # Draw in chunks from successive seeds until enough unique texts.
    while len(eval_examples) < DEFAULT_EVAL_SIZE:
        for text, label in synthetic_tweets(DEFAULT_EVAL_SIZE, d_seed):
            if text not in seen and len(eval_examples) < DEFAULT_EVAL_SIZE:
                seen.add(text)
                eval_examples.append((text, label))
        d_seed += 1
    return train, eval_examples


def write_corpus(path, examples):
    """Writes ``examples`` as UTF-8 ``text,label`` lines; returns ``path``.

    Raises ``ValueError`` if a text contains a comma or a line break (it
    could not be read back with the tutorial's ``split(',')``).
    """
    lines = []
    for i, (text, label) in enumerate(examples):
        if "," in text or "\n" in text or "\r" in text:
            raise ValueError(
                f"example {i}: text must not contain ',' or line breaks: "
                f"{text[:80]!r}")
        lines.append(f"{text},{int(label)}\n")
    directory = os.path.dirname(os.fspath(path))
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(lines)
    return path
