"""Vowpal Wabbit on the file `bart bench train` writes, for BENCHMARKS.md.

Times `--cb_explore_adf` learning from the text file (VW's own parser and learner, driven by
its Python bindings: `pip install vowpalwabbit`), then scores VW's greedy action in every
context against the hidden click model bart wrote beside the data.

usage: python bench/vw_baseline.py bench-data/cb_adf_g1_1000000_7.txt bench-data/contexts.txt \
           bench-data/truth_7.json [extra VW arguments, default: -q UA]
"""

import json
import sys
import time

import vowpalwabbit


def main():
    data, contexts, truth_path = sys.argv[1:4]
    extra = " ".join(sys.argv[4:]) or "-q UA"
    args = f"--cb_explore_adf {extra} --quiet -d {data}"
    start = time.perf_counter()
    vw = vowpalwabbit.Workspace(args)
    vw.run_parser()
    seconds = time.perf_counter() - start
    with open(data, "rb") as f:
        examples = f.read().count(b"\n\n")
    truth = json.load(open(truth_path))
    texts = open(contexts).read().strip().split("\n\n")
    rate = 0.0
    for text, p in zip(texts, truth):
        pmf = vw.predict([line for line in text.split("\n")])
        greedy = max(range(len(pmf)), key=lambda a: pmf[a])
        rate += p[greedy] / len(truth)
    vw.finish()
    print(
        f"VW {vowpalwabbit.__version__} {args}: {examples} examples in {seconds:.2f} s = "
        f"{examples / seconds:.0f} examples/s; greedy click rate {rate:.4f}"
    )


if __name__ == "__main__":
    main()
