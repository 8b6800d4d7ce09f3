#!/usr/bin/env python3
"""Cross-validated comparison of earshot's topic and sentiment rules with a
TF-IDF + linear SVM baseline, on identical folds.

For each of K folds (respondents grouped, so one person's answers never sit
on both sides; seeded shuffle):
  ours      derive_topic_rules.py re-derives topics.toml and sentiment.toml
            from the training folds only (hand-written rules re-weighted,
            learned patterns, inner-CV thresholds), then the C++ engine
            scores the held-out fold (earshot_topics_eval, the same code as
            `earshot rules eval`);
  baseline  scikit-learn TfidfVectorizer + LinearSVC, one-vs-rest over the
            topic labels and a 3-class LinearSVC for sentiment, trained on
            the same training folds. Several standard settings are run and
            the best (by macro-F1, and separately by sentiment accuracy) is
            the bar.
Fold CSVs are written to a temporary directory and deleted afterwards; no
comment text leaves it.

Scores are pooled over folds (counts summed, then F1 per label): macro-F1
over QDC sub-categories with at least --min-support examples in the whole
file; sentiment accuracy over rows with a sentiment (1-2 positive, 3 mixed,
4-5 negative; the rules' "neutral" is always wrong).

Prints one JSON object. Usage (from the repository root, after building
earshot_topics_eval):
  PYTHONPATH=<dir with sklearn> python3 classifiers/tools/eval_topics.py \\
      --bin build/bin/earshot_topics_eval

Needs numpy and scikit-learn (Debian: python3-numpy, python3-sklearn).
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import derive_topic_rules as derive  # noqa: E402

np = derive.np

try:
    import sklearn  # noqa: F401
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")

BASELINES = {
    "tfidf12_C1": (dict(ngram_range=(1, 2), sublinear_tf=True), dict(C=1.0)),
    "tfidf12_C0.5_balanced": (dict(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
                              dict(C=0.5, class_weight="balanced")),
    "tfidf12_C1_balanced": (dict(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
                            dict(C=1.0, class_weight="balanced")),
    "tfidf1_C1": (dict(sublinear_tf=True), dict(C=1.0)),
    "sklearn_defaults": (dict(), dict()),
}


def f1_table(counts, scored):
    out = {}
    for name in scored:
        tp, pred, sup = counts[name]
        p = tp / pred if pred else 0.0
        r = tp / sup if sup else 0.0
        out[name] = {"support": sup, "predicted": pred, "true_positives": tp,
                     "precision": round(p, 4), "recall": round(r, 4),
                     "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0}
    return out


def summarise(counts, scored, sent_correct, sent_rows):
    table = f1_table(counts, scored)
    return {"macro_f1": round(sum(v["f1"] for v in table.values()) / len(scored), 4),
            "sentiment_accuracy": round(sent_correct / sent_rows, 4) if sent_rows else None,
            "labels": table}


def run_baselines(rows, folds, k, scored, names):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import LinearSVC
    import warnings
    warnings.filterwarnings("ignore")
    texts = [r["text"] for r in rows]
    Y = np.array([[1 if l in r["labels"] else 0 for l in scored] for r in rows])
    results = {}
    for name in names:
        vec_kw, svm_kw = BASELINES[name]
        P = np.zeros_like(Y)
        correct = total = 0
        for f in range(k):
            tr = [i for i in range(len(rows)) if folds[i] != f]
            te = [i for i in range(len(rows)) if folds[i] == f]
            vec = TfidfVectorizer(**vec_kw)
            Xtr = vec.fit_transform([texts[i] for i in tr])
            Xte = vec.transform([texts[i] for i in te])
            m = OneVsRestClassifier(LinearSVC(**svm_kw)).fit(Xtr, Y[tr])
            P[te] = m.predict(Xte)
            trs = [i for i in tr if rows[i]["sentiment"]]
            tes = [i for i in te if rows[i]["sentiment"]]
            gold = lambda i: derive.sentiment_class(rows[i]["sentiment"])
            s = LinearSVC(**svm_kw).fit(vec.transform([texts[i] for i in trs]), [gold(i) for i in trs])
            pred = s.predict(vec.transform([texts[i] for i in tes]))
            correct += sum(int(p == gold(i)) for p, i in zip(pred, tes))
            total += len(tes)
        counts = {l: (int(((P[:, j] == 1) & (Y[:, j] == 1)).sum()), int(P[:, j].sum()),
                      int(Y[:, j].sum())) for j, l in enumerate(scored)}
        results[name] = summarise(counts, scored, correct, total)
    return results


def run_ours(rows, header, raw, folds, k, scored, args, params):
    counts = {l: [0, 0, 0] for l in scored}
    correct = total = 0
    groups = [r["group"] for r in rows]
    per_fold = []
    with tempfile.TemporaryDirectory(prefix="earshot-topics-cv-") as tmp:
        for f in range(k):
            tr = [i for i in range(len(rows)) if folds[i] != f]
            te = [i for i in range(len(rows)) if folds[i] == f]
            topics, sentiment, _ = derive.derive_all(rows, tr, groups, args.topics_hand,
                                                     args.sentiment_hand, params, "cv.%d" % f,
                                                     derive.load_social(args.social))
            tpath = os.path.join(tmp, "topics.toml")
            spath = os.path.join(tmp, "sentiment.toml")
            with open(tpath, "w") as out:
                out.write(topics)
            with open(spath, "w") as out:
                out.write(sentiment)
            test_csv = os.path.join(tmp, "test.csv")
            with open(test_csv, "w", encoding="utf-8", newline="") as out:
                w = csv.writer(out)
                w.writerow(header)
                for i in te:
                    w.writerow(raw[i])
            proc = subprocess.run([args.bin, "--json", "--topics", tpath, "--sentiment", spath,
                                   "--min-support", "1", test_csv],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit("earshot_topics_eval failed: " + proc.stderr)
            report = json.loads(proc.stdout)
            for l in report["labels"]:
                if l["name"] in counts:
                    c = counts[l["name"]]
                    c[0] += l["true_positives"]
                    c[1] += l["predicted"]
                    c[2] += l["support"]
            correct += report["sentiment"]["correct"]
            total += report["sentiment"]["rows"]
            per_fold.append({"fold": f, "macro_f1_in_fold": round(report["macro_f1"], 4),
                             "sentiment_accuracy": round(report["sentiment"]["accuracy"], 4),
                             "topic_rules": topics.count("[[rule]]"),
                             "sentiment_rules": sentiment.count("[[rule]]")})
            print("fold %d done: %s" % (f, per_fold[-1]), file=sys.stderr, flush=True)
    # Gold support from the file itself must agree with the engine's reading.
    for j, l in enumerate(scored):
        expect = sum(1 for r in rows if l in r["labels"])
        if counts[l][2] != expect:
            raise SystemExit("support mismatch for %s: engine %d, file %d" % (l, counts[l][2], expect))
    out = summarise({l: tuple(c) for l, c in counts.items()}, scored, correct, total)
    out["folds"] = per_fold
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", default=os.path.join(derive.REPO, "..", "shared", "data", "feedback",
                                                    "fft_v6_train.csv"))
    ap.add_argument("--bin", default=os.path.join(derive.REPO, "build", "bin", "earshot_topics_eval"))
    ap.add_argument("--topics-hand", default=os.path.join(derive.HERE, "rules", "topics.hand.toml"))
    ap.add_argument("--sentiment-hand", default=os.path.join(derive.HERE, "rules", "sentiment.hand.toml"))
    ap.add_argument("--social", default=derive.DEFAULT_SOCIAL,
                    help="social-media sentiment set whose 'tune' rows the derivation reads")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--min-support", type=int, default=15)
    ap.add_argument("--baselines", default=",".join(BASELINES),
                    help="comma-separated subset of: " + ", ".join(BASELINES) + " (or 'none')")
    ap.add_argument("--no-ours", action="store_true", help="run the baselines only")
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                    help="derive_topic_rules.py parameter override")
    args = ap.parse_args()
    params = derive.parse_params(args.param)

    header, raw, rows = derive.load_feedback(args.train)
    folds = derive.group_folds(rows, args.folds, args.seed)
    hand = derive.rulematch.RuleFile(args.topics_hand)
    names = [l["name"] for l in hand.labels]
    support = {l: sum(1 for r in rows if l in r["labels"]) for l in names}
    scored = [l for l in names if support[l] >= args.min_support]

    started = time.time()
    result = {"train": os.path.relpath(args.train), "rows": len(rows), "folds": args.folds,
              "seed": args.seed, "fold_grouping": "Respondent ID",
              "min_support": args.min_support, "scored_labels": len(scored),
              "sentiment_rows": sum(1 for r in rows if r["sentiment"])}
    chosen = [b for b in args.baselines.split(",") if b and b != "none"]
    if chosen:
        base = run_baselines(rows, folds, args.folds, scored, chosen)
        best_f1 = max(base, key=lambda n: base[n]["macro_f1"])
        best_acc = max(base, key=lambda n: base[n]["sentiment_accuracy"])
        result["baseline"] = {
            "best_macro_f1": {"setting": best_f1, "value": base[best_f1]["macro_f1"]},
            "best_sentiment_accuracy": {"setting": best_acc, "value": base[best_acc]["sentiment_accuracy"]},
            "settings": {n: {"macro_f1": v["macro_f1"], "sentiment_accuracy": v["sentiment_accuracy"],
                             "params": repr(BASELINES[n])} for n, v in base.items()},
            "labels_of_best": base[best_f1]["labels"],
        }
    if not args.no_ours:
        result["ours"] = run_ours(rows, header, raw, folds, args.folds, scored, args, params)
        result["ours"]["params"] = {"topics": derive.stage_params(params, "topics"),
                                    "sentiment": derive.stage_params(params, "sentiment")}
    if chosen and not args.no_ours:
        result["ours_minus_baseline"] = {
            "macro_f1": round(result["ours"]["macro_f1"] - result["baseline"]["best_macro_f1"]["value"], 4),
            "sentiment_accuracy": round(result["ours"]["sentiment_accuracy"]
                                        - result["baseline"]["best_sentiment_accuracy"]["value"], 4)}
    result["seconds"] = round(time.time() - started, 1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
