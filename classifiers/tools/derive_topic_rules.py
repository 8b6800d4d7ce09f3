#!/usr/bin/env python3
"""Derives config/rules/topics.toml and config/rules/sentiment.toml.

Inputs: the hand-written rules (classifiers/tools/rules/*.hand.toml, written
from the QDC framework's descriptions) and a labelled CSV in the shared
feedback format (../shared/data/feedback/fft_v6_train.csv; see its
PROVENANCE.md for the v6 -> QDC mapping, repeated in V6_TO_QDC below).

Method, topics (one binary classifier per QDC sub-category):
  features  every hand-written rule of the stage (fired or not, evaluated by
            rulematch.py), word n-grams (1..ngram_max words, at most 3
            non-word characters apart, digits generalised to \\d+) seen in at
            least `min_df` training comments, and "the whole comment is these
            1-3 words" patterns;
  model     L2-regularised logistic regression on binary features, fitted
            by full-batch Adam (numpy); a hand rule may weigh in on any label
            (copied as <label>.x.<rule id>);
  pruning   the `top_k` largest weights per label are kept, then refitted;
  threshold per label, best F1 on out-of-fold scores of an inner
            cross-validation over the training rows.
Method, sentiment: one "balance" model (praise 1, mixed 0.5, criticism 0)
on length-normalised features plus "word after a negation" features; n-gram
rules ignore an occurrence right after a negation (unless_preceded). The
hand rules of positive and negative are features whose weights start from
+-hand_prior (prior knowledge for words rare in the comments). "positive"
holds when the balance is high enough, "negative" when its opposite is. The
hand file's decision rules ("mixed.*": praise and criticism with a contrast;
"neutral.*": news, questions, logistics with no opinion) are copied into both
labels, each with one weight (added for mixed, subtracted for neutral), so a
post that fires one is mixed or neutral unless the balance clearly leans one
way. Thresholds and those weights are chosen together: among the settings
within fft_tolerance of the best 3-class accuracy on the comments (inner
out-of-fold scores), the best accuracy on the comments + social_weight *
accuracy on the "tune" half of tests/fixtures/classify/social_sentiment.csv
(posts written for the project; its "holdout" half is never read here).

Each kept feature becomes a [[rule]] with its weight (an n-gram is the RE2
pattern \\bw1\\W{1,3}w2\\b). Weights are scaled so every label's threshold is
1.0: a label is assigned when its matched rules' weights sum to >= 1.0. A
label that should hold unless evidence speaks against it gets a prior rule
(any non-blank text); length normalisation becomes "at least k words" rules.
The rule files decide exactly as the fitted model (up to rounding of weights
to 4 decimals). Labels with fewer than `min_train` training examples keep
their hand-written rules and weights unchanged.

So the emitted rule files are data: words and phrases with weights, never
comment text. The comments are read only to fit the weights.

Usage:
  python3 classifiers/tools/derive_topic_rules.py \\
      --train ../shared/data/feedback/fft_v6_train.csv --out-dir config/rules

Needs numpy (Debian: python3-numpy) besides the standard library.
"""

import argparse
import csv
import datetime
import os
import random
import re
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rulematch  # noqa: E402

try:
    import numpy as np
except ImportError:  # Debian's python3-numpy, when another python3 runs us
    sys.path.append("/usr/lib/python3/dist-packages")
    import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# ../shared/data/PROVENANCE.md: v6 sub-categories merged in QDC.
V6_TO_QDC = {
    "Number & deployment of staff": "Staffing levels & responsiveness",
    "Staff responsiveness": "Staffing levels & responsiveness",
    "Staff continuity": "Continuity of care",
    "Referals & continuity of care": "Continuity of care",
    "Diagnosis & triage": "Continuity of care",
    "Environment & Facilities": "Environment, facilities & equipment",
    "Provision of medical equipment": "Environment, facilities & equipment",
    "Existence of services": "Timeliness of care",
}

# Short stable names for rule ids, one per QDC sub-category.
TOPIC_SLUGS = {
    "Positive experience & gratitude": "positive",
    "Organisation & efficiency": "organisation",
    "Funding & use of financial resources": "funding",
    "Feeling safe": "safe",
    "Labelling not possible": "unlabelable",
    "Not assigned": "unassigned",
    "Staff manner & personal attributes": "manner",
    "Staffing levels & responsiveness": "staffing",
    "Competence & training": "competence",
    "Contacting services": "contact",
    "Appointment arrangements": "appointments",
    "Appointment method": "method",
    "Timeliness of care": "timeliness",
    "Unspecified communication": "communication",
    "Staff listening, understanding & involving patients": "listening",
    "Information directly from staff during care": "info-staff",
    "Information provision & guidance": "info-provision",
    "Being kept informed, clarity & consistency of information": "kept-informed",
    "Interaction with family/ carers": "family",
    "Mental Health Act": "mha",
    "Continuity of care": "continuity",
    "Discharge": "discharge",
    "Supplying & understanding medication": "medication",
    "Pain management": "pain",
    "Activities & access to fresh air": "activities",
    "Electronic entertainment": "entertainment",
    "Cleanliness, tidiness & infection control": "cleanliness",
    "Sensory experience": "sensory",
    "Environment, facilities & equipment": "environment",
    "Food & drink provision & facilities": "food",
    "Service location": "location",
    "Transport to/ from services": "transport",
    "Parking": "parking",
}

DEFAULT_PARAMS = {
    "ngram_max": 2,
    "min_df": 2,
    "max_gap": 3,  # non-word characters between the words of an n-gram
    "l2": 1.0,
    "l2_hand": 0.3,  # lighter penalty: the hand rules are prior knowledge
    "iters": 250,
    "lr": 0.1,
    "top_k": 200,
    "min_train": 15,
    "inner_folds": 4,
    "min_weight": 0.02,  # after scaling to threshold 1.0
    "min_threshold": 0.25,  # below: a prior rule carries the bias
    "length_norm": 0,  # normalise features by sqrt(words), see LENGTH_BUCKETS
    "idf_penalty": 0,
    "sentiment_targets": 0,
    "negated_words": 0,
    "context_words": 0,  # drop n-grams made only of CONTEXT_WORDS
    "context_penalty": 0.0,  # instead of dropping them, multiply their L2 penalty by this
    "hand_prior": 0.0,  # hand rules' weights are pulled towards +-this
    "social_weight": 0.0,  # sentiment: weight of the social tuning set's accuracy
    "fft_tolerance": 1.0,  # sentiment: comments accuracy that may be given up for it
    "seed": 20261122,
}

# Sentiment differs (5-fold CV on the train file): one balance model with
# soft targets, length-normalised features, lighter L2 with idf-scaled
# penalties, "word after a negation" features, and more features kept. (Length normalisation costs topics
# about 0.01 macro-F1, so they go without.) For posts, which tell stories
# about nights, wards and daughters whether they praise or complain: context
# words penalised, hand rules pulled towards their polarity, and the
# decision (thresholds, mixed and neutral rules) chosen with the social set's
# tune half, giving up at most 0.002 of the comments' inner-CV accuracy.
SENTIMENT_PARAMS = {
    "context_words": 1,
    "context_penalty": 5.0,
    "hand_prior": 1.0,
    "social_weight": 1.0,
    "fft_tolerance": 0.002,
    "length_norm": 1,
    "l2": 0.3,
    "idf_penalty": 1,
    "top_k": 3000,
    "sentiment_targets": 3,
    "negated_words": 1,
}


# ------------------------------------------------------------------ data
def load_feedback(path):
    """Rows of the shared feedback CSV: text, QDC labels, sentiment, group."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [r for r in reader]
    ti = header.index("FFT answer")
    si = header.index("Comment sentiment")
    gi = header.index("Respondent ID") if "Respondent ID" in header else None
    topic_cols = [(i, V6_TO_QDC.get(h, h)) for i, h in enumerate(header) if i > si]
    out = []
    for n, r in enumerate(rows):
        labels = set()
        for i, name in topic_cols:
            v = r[i].strip() if i < len(r) else ""
            if v and v not in ("0", "0.0"):
                labels.add(name)
        s = r[si].strip() if si < len(r) else ""
        sentiment = int(float(s)) if s else 0
        out.append({"text": r[ti] if ti < len(r) else "", "labels": labels,
                    "sentiment": sentiment, "group": r[gi] if gi is not None else str(n)})
    return header, rows, out


def group_folds(rows, k, seed):
    """Fold index per row; all comments of one respondent share a fold."""
    groups = sorted({r["group"] for r in rows})
    random.Random(seed).shuffle(groups)
    fold_of = {g: i % k for i, g in enumerate(groups)}
    return [fold_of[r["group"]] for r in rows]


# -------------------------------------------------------------- features
_TOKEN = re.compile(r"[A-Za-z0-9_]+")
_NONWORD = r"\W"


def token_spans(text):
    return [(m.start(), m.end(), m.group(0).lower()) for m in _TOKEN.finditer(text)]


def norm_token(t):
    return "NUM" if t.isdigit() else t


# Sentiment n-gram rules carry this negation (unless_preceded, within
# NEGATION_WORDS words), so "not rude" does not fire the rule for "rude";
# the phrase "not rude" is a feature of its own.
NEGATION = r"""\b(not|no|never|nothing|nobody|none|without|hardly|cannot|cant|dont|didnt|wasnt|wont|\w+n[’']t)\b"""
NEGATION_WORDS = 3
# "Word after a negation" features: the word starts within this many
# characters after the negation. A character window (not a word count)
# keeps the RE2 pattern `NEGATION.{1,N}\bword\b` cheap: the rules engine
# splits it at the gap into the shared negation pattern and the word, and
# confirms the whole only when both occur.
NEGATED_CHARS = 30


def negated_starts(text, toks, negation):
    """Indices of tokens that a negation match precedes closely enough
    (rule_set.cc: the nearest negation match ending at or before the token,
    fewer than NEGATION_WORDS words between)."""
    negs = [m.span() for m in negation.finditer(text)]
    if not negs:
        return set()
    t = rulematch.Text(text)
    out = set()
    k = -1
    for i, (start, _, _) in enumerate(toks):
        while k + 1 < len(negs) and negs[k + 1][1] <= start:
            k += 1
        if k >= 0 and t.words_between(negs[k][1], start) < NEGATION_WORDS:
            out.add(i)
    return out


# Words that say nothing about praise or criticism by themselves: function
# words (pronouns, articles, prepositions, auxiliaries, number words) and the
# setting of care (who, where, when). In the training comments they still
# predict sentiment, because praise there is short ("Excellent, thank you")
# and criticism is told as a story ("had my operation at the day unit last
# week ..."); a post that tells a happy story about a night shift must not
# read as criticism for that. With context_words, the n-grams made only of
# these words ("at the", "night", "NUM", "on my") are dropped, or with
# context_penalty their L2 penalty is multiplied by it, so they keep only what
# the comments insist on (sentiment: x5; dropping them costs the comments'
# cross-validated accuracy about 0.004). Phrases that contain another word
# ("on time", "no staff") are ordinary features. Negations, modal verbs,
# "but", "too", "very", "more" are not here: they carry sentiment.
FUNCTION_WORDS = frozenset("""
a an the this that these those it its i me my mine myself we us our ours you your yours he him his
she her hers they them their theirs who whom which what where when how there here s t d ll m re ve
of in on at to from by for with about into onto over under up down out off through during before
after between again then once as so and or if than also just
am is are was were be been being have has had having do does did doing get got gets getting go
goes went going gone come came coming take took taken make made
one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty hundred
first second third half NUM
""".split())
CONTEXT_WORDS = FUNCTION_WORDS | frozenset("""
nhs hospital hospitals ward wards e ae aande unit units department clinic clinics centre surgery
gp gps practice pharmacy ambulance paramedic paramedics doctor doctors nurse nurses nursing midwife
midwives midwifery consultant consultants patient patients staff team crew porter porters
night nights day days morning mornings evening evenings afternoon tonight today yesterday tomorrow
week weekend month year hour minute last next monday tuesday wednesday thursday friday saturday
sunday shift shifts
mum mother dad father son daughter wife husband partner nan gran grandad grandma grandpa baby babies
child children kids family brother sister
""".split())


def context_only(feature):
    """Whether an n-gram feature is made only of CONTEXT_WORDS."""
    return feature[0] != "hand" and all(w in CONTEXT_WORDS for w in feature[1])


def text_features(text, ngram_max, max_gap, negation=None, negated_words=False):
    """Feature keys present in `text` (see pattern_for). With `negation`,
    an n-gram occurrence right after a negation does not count; with
    `negated_words` too, each word of the three after a negation is a
    feature of its own ("n", (word,))."""
    toks = token_spans(text)
    feats = set()
    n = len(toks)
    skip = negated_starts(text, toks, negation) if negation is not None else ()
    if negation is not None and negated_words:
        # Words starting 1..NEGATED_CHARS characters after a negation, on the
        # same line (negated_word_pattern).
        for m in negation.finditer(text):
            end = m.end()
            for (start, stop, word) in toks:
                if start - end > NEGATED_CHARS:
                    break
                if start - end >= 1 and "\n" not in text[end:start]:
                    feats.add(("n", (norm_token(word),)))
    for i in range(n):
        if i in skip:
            continue
        words = [norm_token(toks[i][2])]
        feats.add(("g", (words[0],)))
        for j in range(i + 1, min(n, i + ngram_max)):
            if toks[j][0] - toks[j - 1][1] > max_gap:
                break
            words.append(norm_token(toks[j][2]))
            feats.add(("g", tuple(words)))
    if 1 <= n <= 3:
        ok = toks[0][0] <= max_gap and len(text) - toks[-1][1] <= max_gap
        ok = ok and all(toks[j][0] - toks[j - 1][1] <= max_gap for j in range(1, n))
        if ok:
            feats.add(("w", tuple(norm_token(t[2]) for t in toks)))
    return feats


def _word_re(w):
    return r"\d+" if w == "NUM" else w


def pattern_for(feature, max_gap):
    kind, words = feature
    sep = r"\W{1,%d}" % max_gap
    body = sep.join(_word_re(w) for w in words)
    if kind == "n":
        return NEGATION + r".{1,%d}\b" % NEGATED_CHARS + body + r"\b"
    if kind == "g":
        return r"\b" + body + r"\b"
    return r"^\W{0,%d}" % max_gap + body + r"\W{0,%d}$" % max_gap


def feature_slug(feature):
    kind, words = feature
    s = "-".join("num" if w == "NUM" else w for w in words)
    return {"w": "only.", "n": "negated."}.get(kind, "") + s


# Length normalisation. A linear model on length-normalised features
# (TF-IDF style) decides  w.x / nu(n) + b >= t  for a text of n words, which
# is  w.x + (b - t) nu(n) >= 0: the same weights plus a function of length,
# which rules can carry as "at least k words" steps. nu(n) is sqrt of the
# largest bucket boundary <= n, so the step rules make the rule file decide
# exactly as the fitted model.
LENGTH_BUCKETS = [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 130, 170, 220, 300]


def length_nu(n):
    b = 1
    for k in LENGTH_BUCKETS:
        if n >= k:
            b = k
    return b ** 0.5


def length_pattern(k):
    """RE2 (and Python re) for "at least k words" (words as \w+ runs)."""
    return r"^(?:\W*\w+\b){%d}" % k


# ---------------------------------------------------------- sparse + LR
class Binary:
    """A binary sparse matrix as per-row feature index lists."""

    def __init__(self, lists, d, scale=None):
        self.lists = lists
        self.n = len(lists)
        self.d = d
        # Per-row multiplier (length normalisation); None: all ones.
        self.scale = scale
        lens = np.array([len(x) for x in lists], dtype=np.int64)
        self.indptr = np.zeros(self.n + 1, dtype=np.int64)
        self.indptr[1:] = np.cumsum(lens)
        self.ind = np.fromiter((j for x in lists for j in x), dtype=np.int64, count=int(lens.sum()))
        self.row = np.repeat(np.arange(self.n), lens)
        order = np.argsort(self.ind, kind="stable")
        self.cind = self.ind[order]
        self.crow = self.row[order]
        self.cptr = np.searchsorted(self.cind, np.arange(d + 1))

    def rows(self, idx):
        return Binary([self.lists[i] for i in idx], self.d,
                      None if self.scale is None else self.scale[np.asarray(idx)])

    def dot(self, W):
        out = np.zeros((self.n, W.shape[1]), dtype=W.dtype)
        nz = np.diff(self.indptr) > 0
        if nz.any():
            out[nz] = np.add.reduceat(W[self.ind], self.indptr[:-1][nz], axis=0)
        if self.scale is not None:
            out *= self.scale[:, None]
        return out

    def tdot(self, G):
        if self.scale is not None:
            G = G * self.scale[:, None]
        out = np.zeros((self.d, G.shape[1]), dtype=G.dtype)
        nz = np.diff(self.cptr) > 0
        if nz.any():
            out[nz] = np.add.reduceat(G[self.crow], self.cptr[:-1][nz], axis=0)
        return out


def train_lr(X, Y, penalty, params, mask=None, prior=None):
    """Logistic regression per column of Y; penalty: per-feature L2 (d,);
    mask (d, L): the weights allowed to be non-zero; prior (d, L): the
    weights the L2 penalty pulls towards (default 0)."""
    n, L = Y.shape
    W = np.zeros((X.d, L), dtype=np.float64)
    if prior is None:
        prior = np.zeros_like(W)
    W += prior if mask is None else prior * mask
    p = Y.mean(axis=0)
    b = np.log((p + 1e-3) / (1 - p + 1e-3))
    mW = np.zeros_like(W); vW = np.zeros_like(W)
    mb = np.zeros_like(b); vb = np.zeros_like(b)
    pen = penalty[:, None] / n
    lr = params["lr"]
    for t in range(1, params["iters"] + 1):
        Z = X.dot(W) + b
        P = 1.0 / (1.0 + np.exp(-np.clip(Z, -30, 30)))
        G = (P - Y) / n
        gW = X.tdot(G) + pen * (W - prior)
        if mask is not None:
            gW *= mask
        gb = G.sum(axis=0)
        for prm, g, m, v in ((W, gW, mW, vW), (b, gb, mb, vb)):
            m *= 0.9; m += 0.1 * g
            v *= 0.999; v += 0.001 * g * g
            prm -= lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    return W, b


def prune(W, top_k):
    if top_k:
        for j in range(W.shape[1]):
            order = np.argsort(-np.abs(W[:, j]))
            W[order[top_k:], j] = 0.0
    return W


def fit_pruned(X, Y, pen, params, prior=None):
    """Fits, keeps the top_k weights per label, and refits on those alone
    (so the kept weights make up for the dropped ones)."""
    W, b = train_lr(X, Y, pen, params, prior=prior)
    if params["top_k"] and X.d > params["top_k"]:
        prune(W, params["top_k"])
        W, b = train_lr(X, Y, pen, params, mask=(W != 0).astype(np.float64), prior=prior)
    return W, b


def scores(X, W, b):
    """Log-odds per row and label: the sum of matched weights plus bias."""
    return X.dot(W) + b


def best_f1_threshold(s, y):
    """Threshold on s maximising F1."""
    order = np.argsort(-s)
    ss, ys = s[order], y[order]
    tp = np.cumsum(ys)
    k = np.arange(1, len(s) + 1)
    f1 = 2 * tp / (k + ys.sum() + 1e-12)
    j = int(np.argmax(f1))
    if j + 1 < len(ss):
        return (ss[j] + ss[j + 1]) / 2, f1[j]
    return ss[j] - 1e-3, f1[j]


# ------------------------------------------------------------- a stage
class StageModel:
    """Fits one stage (its labels) and renders its rule file."""

    def __init__(self, hand, labels, params, negation=None):
        self.hand = hand  # rulematch.RuleFile
        self.labels = labels  # names, in file order
        self.params = params
        self.negation = negation  # pattern text for learned rules, or None
        self.negation_re = re.compile(negation, re.ASCII | re.IGNORECASE) if negation else None

    def featurise(self, texts):
        p = self.params
        self.ntok = [len(token_spans(t)) for t in texts]
        fired = [set(self.hand.fired(t)) for t in texts]
        grams = [text_features(t, p["ngram_max"], p["max_gap"], self.negation_re, p["negated_words"])
                 for t in texts]
        return fired, grams

    def vocabulary(self, grams, idx):
        from collections import Counter
        df = Counter(f for i in idx for f in grams[i])
        vocab = sorted(f for f, c in df.items() if c >= self.params["min_df"])
        if self.params["context_words"] and not self.params["context_penalty"]:
            vocab = [f for f in vocab if not context_only(f)]
        return [("hand", r.id) for r in self.hand.rules] + vocab

    def matrix(self, fired, grams, idx, vocab):
        index = {f: j for j, f in enumerate(vocab)}
        lists = []
        for i in idx:
            row = [index[("hand", rid)] for rid in fired[i]]
            row += [index[f] for f in grams[i] if f in index]
            lists.append(sorted(set(row)))
        scale = None
        if self.params["length_norm"]:
            scale = np.array([1.0 / length_nu(self.ntok[i]) for i in idx])
        return Binary(lists, len(vocab), scale)

    def penalty(self, vocab, X):
        """Per-feature L2. With idf_penalty, rarer features are penalised
        less (like TF-IDF's feature scaling: a weight on a feature scaled by
        idf costs 1/idf^2 as much)."""
        p = self.params
        pen = np.array([p["l2_hand"] if f[0] == "hand" else p["l2"] for f in vocab])
        if p["idf_penalty"]:
            df = np.diff(X.cptr).astype(np.float64)
            idf = np.log((1.0 + X.n) / (1.0 + df)) + 1.0
            pen = pen / idf ** 2 * np.mean(idf) ** 2
        if p["context_words"] and p["context_penalty"]:
            pen = pen * np.array([p["context_penalty"] if context_only(f) else 1.0 for f in vocab])
        return pen

    def fit(self, fired, grams, Y, idx, groups):
        """Fits on rows idx; thresholds from inner folds over `groups`."""
        p = self.params
        vocab = self.vocabulary(grams, idx)
        X = self.matrix(fired, grams, idx, vocab)
        Yi = Y[idx]
        pen = self.penalty(vocab, X)
        prior = self.prior(vocab, Yi.shape[1])
        W, b = fit_pruned(X, Yi, pen, p, prior)
        # Out-of-fold scores for the thresholds, and their evidence for
        # (P) and against (N) each column: S = P - N + b.
        g = np.array([groups[i] for i in idx])
        inner = np.array([zlib.crc32(x.encode()) % p["inner_folds"] for x in g])
        S = np.zeros_like(Yi, dtype=np.float64)
        P = np.zeros_like(S)
        N = np.zeros_like(S)
        for k in range(p["inner_folds"]):
            tr = np.where(inner != k)[0]
            te = np.where(inner == k)[0]
            # The vocabulary of the whole fit is kept: word counts only.
            Xt = X.rows(tr)
            W2, b2 = fit_pruned(Xt, Yi[tr], pen, p, prior)
            Xe = X.rows(te)
            S[te] = scores(Xe, W2, b2)
            P[te] = Xe.dot(np.maximum(W2, 0))
            N[te] = Xe.dot(np.maximum(-W2, 0))
        self.vocab, self.W, self.b = vocab, W, b
        self.S_oof, self.P_oof, self.N_oof, self.Y = S, P, N, Yi
        return self

    def prior(self, vocab, columns):
        """Weights the fit is pulled towards: with hand_prior, a hand rule's
        weight starts from +hand_prior towards its own label (column 0 of a
        one-column balance model is the first label) and -hand_prior against
        the other; everything else from 0. Prior knowledge for words that
        are rare in the training comments but common elsewhere ("heroes",
        "shambles")."""
        W0 = np.zeros((len(vocab), columns))
        a = self.params["hand_prior"]
        if a:
            names = self.labels
            by_id = {r.id: r for r in self.hand.rules}
            for i, f in enumerate(vocab):
                if f[0] == "hand":
                    sign = 1.0 if by_id[f[1]].label == names[0] else -1.0
                    W0[i, 0] = sign * a
        return W0

    def rule_tables(self, j, label, T, label_slug, hand_by_id):
        """[[rule]] dicts for model column j (label `label`), which holds when
        w.x / nu(n) >= T (T = threshold - bias, in log-odds units; nu = 1
        without length normalisation).

        Emitted with threshold 1.0. When T is comfortably positive the
        weights are divided by T and "at least k words" rules subtract
        nu(n) - 1. Otherwise (a label that holds unless evidence speaks
        against it) a prior rule matching every non-blank text carries 1 - T, the
        weights stay in log-odds units and the length rules add -T steps."""
        p = self.params
        out = []
        if T >= p["min_threshold"]:
            scale, base, step = 1.0 / T, 0.0, -1.0
        else:
            scale, base, step = 1.0, 1.0 - T, -T
            # Any non-blank text: a blank one is no evidence of anything.
            out.append(dict(id="%s.prior" % label_slug, label=label, weight=round(base, 4),
                            any=[r"\S"]))
        if p["length_norm"]:
            prev = 1.0
            for k in LENGTH_BUCKETS[1:]:
                nu = k ** 0.5
                out.append(dict(id="%s.length.%d-words" % (label_slug, k), label=label,
                                weight=round(step * (nu - prev), 4), any=[length_pattern(k)]))
                prev = nu
        w = self.W[:, j] * scale
        order = sorted(range(len(w)), key=lambda i: (-abs(w[i]), i))
        for i in order:
            if abs(w[i]) < p["min_weight"]:
                continue
            f = self.vocab[i]
            weight = round(float(w[i]), 4)
            if f[0] == "decide":
                src = hand_by_id[f[1]]
                table = {k: v for k, v in src.source.items() if k not in ("id", "label", "weight")}
                out.append(dict(id="%s.%s" % (label_slug, f[1]), label=label, weight=weight, **table))
            elif f[0] == "hand":
                src = hand_by_id[f[1]]
                table = {k: v for k, v in src.source.items() if k not in ("id", "label", "weight")}
                rid = f[1] if src.label == label else "%s.x.%s" % (label_slug, f[1])
                out.append(dict(id=rid, label=label, weight=weight, **table))
            else:
                rule = dict(id="%s.w.%s" % (label_slug, feature_slug(f)), label=label,
                            weight=weight, any=[pattern_for(f, p["max_gap"])])
                if self.negation:
                    rule.update(unless_preceded=self.negation, within_words=NEGATION_WORDS)
                out.append(rule)
        return out


def derive_topics(rows, idx, groups, hand_path, params):
    hand = rulematch.RuleFile(hand_path)
    labels = [l["name"] for l in hand.labels]
    unknown = [l for l in labels if l not in TOPIC_SLUGS]
    if unknown:
        raise SystemExit("no slug for topic labels %r" % unknown)
    model = StageModel(hand, labels, params)
    texts = [r["text"] for r in rows]
    fired, grams = model.featurise(texts)
    Y = np.array([[1.0 if l in r["labels"] else 0.0 for l in labels] for r in rows])
    counts = Y[idx].sum(axis=0)
    learned = [j for j, c in enumerate(counts) if c >= params["min_train"]]
    model.fit(fired, grams, Y[:, learned], idx, groups)
    hand_by_id = {r.id: r for r in hand.rules}
    rules = []
    summary = []
    for j, name in enumerate(labels):
        slug = TOPIC_SLUGS[name]
        if j in learned:
            k = learned.index(j)
            t, f1 = best_f1_threshold(model.S_oof[:, k], model.Y[:, k])
            T = t - model.b[k]
            rules += model.rule_tables(k, name, T, slug, hand_by_id)
            summary.append((name, int(counts[j]), "learned", round(float(f1), 3)))
        else:
            for r in hand.rules:
                if r.label == name:
                    rules.append(dict(r.source))
            summary.append((name, int(counts[j]), "hand", None))
    return hand, rules, summary


def best_sentiment_thresholds(S, gold):
    """(t_pos, t_neg) maximising 3-class accuracy; gold in {pos, mixed, neg}."""
    def cands(s):
        return np.unique(np.quantile(s, np.linspace(0.02, 0.98, 97)))
    best = (-1, 0.0, 0.0)
    sp, sn = S[:, 0], S[:, 1]
    for tp in cands(sp):
        P = sp >= tp
        for tn in cands(sn):
            N = sn >= tn
            pred = np.where(P & N, "mixed", np.where(P, "positive", np.where(N, "negative", "neutral")))
            acc = float((pred == gold).mean())
            if acc > best[0]:
                best = (acc, tp, tn)
    return best


def sentiment_class(s):
    return "positive" if s <= 2 else "mixed" if s == 3 else "negative"


def sentiment_targets(rows, kind):
    """Targets of the two sentiment models. kind 0: positive = 1-3 and
    negative = 3-5 (mixed is both); kind 1 and 2: positive = 1-2, negative =
    4-5 (mixed is learned only through the thresholds; see balance())."""
    if kind == 3:  # one balance model: praise 1, mixed 0.5, criticism 0
        return np.array([[1.0 if 1 <= r["sentiment"] <= 2 else 0.5 if r["sentiment"] == 3 else 0.0]
                         for r in rows])
    lo, hi = (3, 3) if kind == 0 else (2, 4)
    return np.array([[1.0 if 1 <= r["sentiment"] <= lo else 0.0, 1.0 if r["sentiment"] >= hi else 0.0]
                     for r in rows])


SENTIMENT_CLASSES = ("positive", "negative", "mixed", "neutral")
DEFAULT_SOCIAL = os.path.join(REPO, "tests", "fixtures", "classify", "social_sentiment.csv")
# Weights tried for the decision rules of the hand file ("mixed.*" add to
# both labels, "neutral.*" subtract from both), in log-odds units of the
# balance, per word-normalised occurrence like every other feature.
DECISION_WEIGHTS = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)


def load_social(path):
    """(text, class) of the rows of a social-media sentiment set
    (tests/fixtures/classify/social_sentiment.csv: id, split, sentiment,
    text) whose split is "tune"; the "holdout" rows are never read here."""
    if not path:
        return []
    with open(path, encoding="utf-8", newline="") as f:
        return [(r["text"], r["sentiment"]) for r in csv.DictReader(f) if r["split"] == "tune"]


def class_codes(pos, neg):
    """0 positive, 1 negative, 2 mixed, 3 neutral (SENTIMENT_CLASSES)."""
    return np.where(pos & neg, 2, np.where(pos, 0, np.where(neg, 1, 3)))


def best_decision(S, extra, gold, social_weight, fft_tolerance):
    """Thresholds and decision-rule weights. S: the balance (log-odds) per
    row; extra[r]: per decision rule r, its word-normalised occurrence per
    row, signed (+ mixed, - neutral), the comments' rows first, then the
    social tuning rows; gold: (class codes of the comments, of the social
    rows). Positive holds
    when S + sum_r w_r extra_r >= tp, negative when -S + sum_r w_r extra_r
    >= tn.

    Among the settings whose accuracy on the comments (inner out-of-fold
    scores) is within fft_tolerance of the best, the one maximising comments
    accuracy + social_weight * social accuracy. Returns (comments accuracy,
    social accuracy, tp, tn, weights in sorted rule id order)."""
    fft, soc = gold[0], gold[1]
    nf = len(fft)
    names = sorted(extra)
    grid = [()]
    for _ in names:
        grid = [g + (w,) for g in grid for w in DECISION_WEIGHTS]
    cands = lambda x: np.unique(np.quantile(x, np.linspace(0.01, 0.99, 99)))
    results = []
    for ws in grid:
        e = sum((w * extra[n] for w, n in zip(ws, names)), np.zeros_like(S))
        pos_s, neg_s = S + e, -S + e
        tps, tns = cands(pos_s[:nf]), cands(neg_s[:nf])
        NEG = neg_s[None, :] >= tns[:, None]
        for tp in tps:
            pred = class_codes((pos_s >= tp)[None, :], NEG)
            acc = (pred[:, :nf] == fft[None, :]).mean(axis=1)
            sacc = (pred[:, nf:] == soc[None, :]).mean(axis=1) if len(soc) else np.zeros(len(tns))
            j = int(np.argmax(acc + social_weight * sacc))
            results.append((float(acc[j]), float(sacc[j]), float(tp), float(tns[j]), ws))
    best_fft = max(r[0] for r in results)
    ok = [r for r in results if r[0] >= best_fft - fft_tolerance - 1e-12]
    return max(ok, key=lambda r: (r[0] + social_weight * r[1], r[0]))


def derive_sentiment(rows, idx, groups, hand_path, params, social=()):
    hand = rulematch.RuleFile(hand_path)
    labels = [l["name"] for l in hand.labels]
    assert labels == ["positive", "negative"], labels
    assert params["sentiment_targets"] == 3, "sentiment is one balance model"
    idx = [i for i in idx if rows[i]["sentiment"]]
    # The balance learns from the positive and negative hand rules; the
    # decision rules ("mixed.*", "neutral.*") get one fitted weight each.
    decision = [r for r in hand.rules if r.label in ("mixed", "neutral")]
    hand.rules = [r for r in hand.rules if r.label in labels]
    model = StageModel(hand, labels, params, negation=NEGATION)
    texts = [r["text"] for r in rows] + [t for t, _ in social]
    fired, grams = model.featurise(texts)
    Y = sentiment_targets(rows, params["sentiment_targets"])
    model.fit(fired, grams, Y, idx, groups)
    w, b = model.W[:, 0], float(model.b[0])
    sidx = list(range(len(rows), len(texts)))
    Xs = model.matrix(fired, grams, sidx, model.vocab)
    S = np.concatenate([model.S_oof[:, 0], Xs.dot(model.W)[:, 0] + b])
    rows_all = idx + sidx
    norm = np.array([1.0 / length_nu(model.ntok[i]) if params["length_norm"] else 1.0
                     for i in rows_all])
    extra = {}
    for r in decision:
        sign = 1.0 if r.label == "mixed" else -1.0
        hit = np.array([r.holds(rulematch.Text(texts[i])) is not None for i in rows_all])
        extra[r.id] = sign * hit * norm
    code = {c: k for k, c in enumerate(SENTIMENT_CLASSES)}
    gold = (np.array([code[sentiment_class(rows[i]["sentiment"])] for i in idx], dtype=np.int64),
            np.array([code[c] for _, c in social], dtype=np.int64))
    acc, sacc, tp, tn, ws = best_decision(S, extra, gold, params["social_weight"],
                                          params["fft_tolerance"])
    # Both labels: the balance (positive) and its mirror (negative), plus
    # the decision rules with their signed weights.
    names = sorted(extra)
    signed = np.array([wt * (1.0 if decision_by_id(decision, n).label == "mixed" else -1.0)
                       for wt, n in zip(ws, names)])
    model.vocab = model.vocab + [("decide", n) for n in names]
    model.W = np.concatenate([np.stack([w, -w], axis=1), np.stack([signed, signed], axis=1)])
    hand_by_id = {r.id: r for r in hand.rules + decision}
    rules = []
    for j, (name, T) in enumerate(zip(labels, (tp - b, tn + b))):
        rules += model.rule_tables(j, name, T, name, hand_by_id)
    self_check = {"fft_inner_oof_accuracy": round(acc, 4), "social_tune_accuracy": round(sacc, 4),
                  "decision_weights": dict(zip(names, ws))}
    return hand, rules, [("sentiment", len(idx), "learned", round(acc, 3))], self_check


def decision_by_id(decision, rid):
    return next(r for r in decision if r.id == rid)


# ------------------------------------------------------------- TOML out
def toml_str(s):
    if "'" not in s and "\n" not in s:
        return "'" + s + "'"
    if "'''" not in s and "\n" not in s:
        return "'''" + s + "'''"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return toml_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join("%s = %s" % (k, toml_value(x)) for k, x in v.items()) + " }"
    raise TypeError(v)


def render(hand, rules, version, header_lines):
    out = ["# GENERATED by classifiers/tools/derive_topic_rules.py; do not edit by hand."]
    out += ["# " + l if l else "#" for l in header_lines]
    out += ["", "[meta]"]
    out.append("stage = %s" % toml_str(hand.meta["stage"]))
    out.append("version = %s" % toml_str(version))
    out.append("case_sensitive = %s" % toml_value(bool(hand.meta.get("case_sensitive", False))))
    for l in hand.labels:
        out += ["", "[[label]]"]
        for k in ("name", "category", "threshold", "priority"):
            if k in l:
                out.append("%s = %s" % (k, toml_value(l[k])))
        if "threshold" not in l:
            out.append("threshold = 1.0")
    order = ("id", "label", "weight", "any", "all", "none", "near", "unless_preceded", "within_words")
    for r in rules:
        out += ["", "[[rule]]"]
        for k in order:
            if k in r:
                out.append("%s = %s" % (k, toml_value(r[k])))
    return "\n".join(out) + "\n"


def stage_params(params, stage):
    """Parameters for a stage: defaults, the stage's own defaults, then
    overrides ("l2" for both stages, "sentiment.l2" for one)."""
    p = dict(DEFAULT_PARAMS)
    if stage == "sentiment":
        p.update(SENTIMENT_PARAMS)
    for k, v in (params or {}).items():
        if "." not in k:
            p[k] = v
    for k, v in (params or {}).items():
        if k.startswith(stage + "."):
            p[k.split(".", 1)[1]] = v
    return p


def describe(p):
    return ", ".join("%s=%s" % kv for kv in sorted(p.items()))


def derive_all(rows, idx, groups, topics_hand, sentiment_hand, params, version, social=()):
    pt = stage_params(params, "topics")
    ps = stage_params(params, "sentiment")
    common = "Every label's threshold is 1.0: a label holds when its matched rules' weights sum to >= 1.0."
    hand_t, rules_t, sum_t = derive_topics(rows, idx, groups, topics_hand, pt)
    topics = render(hand_t, rules_t, version, [
        "Hand-written rules from %s (their ids), re-weighted;" % os.path.relpath(topics_hand, REPO),
        "learned word/phrase rules (.w.), hand rules of other labels (.x.), length steps (.length.).",
        "Parameters: " + describe(pt), common])
    hand_s, rules_s, sum_s, _ = derive_sentiment(rows, idx, groups, sentiment_hand, ps, social)
    sentiment = render(hand_s, rules_s, version, [
        "Hand-written rules from %s, re-weighted, and learned word/phrase rules (.w.)." %
        os.path.relpath(sentiment_hand, REPO),
        "One balance score D (praise minus criticism): positive holds when D is high enough, negative",
        "when -D is, both (mixed) in a middle band, neither (neutral) otherwise. Decision rules",
        "(<label>.mixed.*, <label>.neutral.*) add to both labels or subtract from both: such a post is",
        "mixed or neutral unless D clearly leans one way.",
        "Parameters: " + describe(ps), common])
    return topics, sentiment, sum_t + sum_s


def parse_params(pairs):
    params = {}
    for kv in pairs:
        k, v = kv.split("=", 1)
        base = k.split(".", 1)[1] if k.startswith(("topics.", "sentiment.")) else k
        if base not in DEFAULT_PARAMS:
            raise SystemExit("unknown parameter %s" % k)
        params[k] = int(float(v)) if isinstance(DEFAULT_PARAMS[base], int) else float(v)
    return params


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", default=os.path.join(REPO, "..", "shared", "data", "feedback",
                                                    "fft_v6_train.csv"))
    ap.add_argument("--topics-hand", default=os.path.join(HERE, "rules", "topics.hand.toml"))
    ap.add_argument("--sentiment-hand", default=os.path.join(HERE, "rules", "sentiment.hand.toml"))
    ap.add_argument("--social", default=DEFAULT_SOCIAL,
                    help="social-media sentiment set; only its 'tune' rows are read ('' for none)")
    ap.add_argument("--out-dir", default=os.path.join(REPO, "config", "rules"))
    ap.add_argument("--version", default=datetime.date.today().isoformat() + ".1")
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                    help="override a parameter (%s)" % ", ".join(sorted(DEFAULT_PARAMS)))
    args = ap.parse_args()
    params = parse_params(args.param)
    _, _, rows = load_feedback(args.train)
    groups = [r["group"] for r in rows]
    topics, sentiment, summary = derive_all(rows, list(range(len(rows))), groups, args.topics_hand,
                                            args.sentiment_hand, params, args.version,
                                            load_social(args.social))
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "topics.toml"), "w") as f:
        f.write(topics)
    with open(os.path.join(args.out_dir, "sentiment.toml"), "w") as f:
        f.write(sentiment)
    for name, n, how, score in summary:
        print("%-60s %5d %-8s %s" % (name, n, how, "" if score is None else "inner-CV %.3f" % score))


if __name__ == "__main__":
    main()
