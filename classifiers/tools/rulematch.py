"""A Python reading of earshot's rule files, for the scripts that derive and
tune them (classifiers/tools/derive_topic_rules.py).

It mirrors classifiers/rules/rule_set.cc closely enough to tune weights and
thresholds: a rule holds when every `all` pattern, some `any` pattern and
every `near` clause match and no `none` pattern does; with `unless_preceded`,
a positive match is discarded when the nearest negation match ending before
it has fewer than `within_words` words between them. Words are runs of ASCII
letters, digits and apostrophes or of non-ASCII characters. Patterns use the
subset of RE2 syntax that Python's re reads the same way; matching is ASCII
for \\b, \\w, \\d, \\s, like RE2. The C++ engine stays the reference: figures
are always measured with it (earshot rules eval, earshot_topics_eval).

Standard library only.
"""

import bisect
import re
import tomllib

_WORD = re.compile(r"[A-Za-z0-9'\u0080-\U0010ffff]+")


class Text:
    """One text with lazily computed word spans and per-pattern matches."""

    __slots__ = ("text", "_words", "_matches")

    def __init__(self, text):
        self.text = text
        self._words = None
        self._matches = {}

    def matches(self, regex):
        found = self._matches.get(regex)
        if found is None:
            found = [(m.start(), m.end()) for m in regex.finditer(self.text)]
            self._matches[regex] = found
        return found

    def words_between(self, start, end):
        if end <= start:
            return 0
        if self._words is None:
            self._words = [(m.start(), m.end()) for m in _WORD.finditer(self.text)]
        ends = [w[1] for w in self._words]
        lo = bisect.bisect_right(ends, start)
        n = 0
        for w in self._words[lo:]:
            if w[0] >= end:
                break
            n += 1
        return n


class Rule:
    def __init__(self, table, flags):
        self.id = table["id"]
        self.label = table["label"]
        self.weight = float(table.get("weight", 1.0))
        self.source = table
        comp = lambda p: re.compile(p, flags)
        self.any = [comp(p) for p in table.get("any", [])]
        self.all = [comp(p) for p in table.get("all", [])]
        self.none = [comp(p) for p in table.get("none", [])]
        self.near = [(comp(n["a"]), comp(n["b"]), int(n["within"])) for n in table.get("near", [])]
        neg = table.get("unless_preceded")
        self.negation = comp(neg) if neg else None
        self.within_words = int(table.get("within_words", 3)) if neg else 0

    def _negated(self, t, m):
        negs = t.matches(self.negation)
        ends = [n[1] for n in negs]
        i = bisect.bisect_right(ends, m[0])
        if i == 0:
            return False
        return t.words_between(negs[i - 1][1], m[0]) < self.within_words

    def _accepted(self, t, regex, negating):
        for m in t.matches(regex):
            if not (negating and self._negated(t, m)):
                return m
        return None

    def holds(self, t):
        """Whether the rule fires on Text t; returns its span or None."""
        if any(not t.matches(p) for p in self.all):
            return None
        if self.any and not any(t.matches(p) for p in self.any):
            return None
        if any(t.matches(p) for p in self.none):
            return None
        negating = self.negation is not None and bool(t.matches(self.negation))
        span = None
        if self.any:
            best = None
            for p in self.any:
                m = self._accepted(t, p, negating)
                if m and (best is None or m[0] < best[0]):
                    best = m
            if best is None:
                return None
            span = best
        for p in self.all:
            m = self._accepted(t, p, negating)
            if m is None:
                return None
            span = span or m
        for a, b, within in self.near:
            m = self._near(t, a, b, within, negating)
            if m is None:
                return None
            span = span or m
        return span

    def _near(self, t, a, b, within, negating):
        keep = lambda ms: [m for m in ms if not (negating and self._negated(t, m))]
        aa = keep(t.matches(a))
        bb = keep(t.matches(b))
        for ma in aa:
            for mb in bb:
                if mb[1] <= ma[0]:
                    words = t.words_between(mb[1], ma[0])
                elif ma[1] <= mb[0]:
                    words = t.words_between(ma[1], mb[0])
                else:
                    words = 0
                if words <= within:
                    return (min(ma[0], mb[0]), max(ma[1], mb[1]))
        return None


class RuleFile:
    """A parsed rule file: meta, labels (in order) and rules (in order)."""

    def __init__(self, path=None, text=None):
        data = tomllib.loads(text) if text is not None else tomllib.load(open(path, "rb"))
        self.meta = data.get("meta", {})
        self.labels = data.get("label", [])
        flags = re.ASCII
        if not self.meta.get("case_sensitive", False):
            flags |= re.IGNORECASE
        self.rules = [Rule(r, flags) for r in data.get("rule", [])]

    def fired(self, text):
        """Ids of the rules that fire on `text`."""
        t = Text(text)
        return [r.id for r in self.rules if r.holds(t) is not None]
