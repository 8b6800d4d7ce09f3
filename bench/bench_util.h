// Shared by every benchmark: timing and the one output shape
// (bench/README.md). Header-only; each benchmark is its own program.
#pragma once

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>

namespace earshot::bench {

using Clock = std::chrono::steady_clock;

// Best of `runs` timings of fn(), in seconds: the least disturbed run.
inline double BestOf(int runs, const std::function<void()>& fn) {
  double best = 1e300;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return best;
}

// One JSON line: bench, items, seconds, items_per_second, baseline,
// baseline_seconds, ratio (ours / baseline), plus `extra` fields.
inline void Report(const std::string& name, int64_t items, double seconds,
                   const std::string& baseline, double baseline_seconds,
                   boost::json::object extra = {}) {
  boost::json::object o;
  o["bench"] = name;
  o["items"] = items;
  o["seconds"] = seconds;
  o["items_per_second"] = items / seconds;
  o["baseline"] = baseline;
  o["baseline_seconds"] = baseline_seconds;
  o["ratio"] = seconds / baseline_seconds;
  for (auto& [k, v] : extra) o[k] = v;
  std::cout << boost::json::serialize(o) << std::endl;
}

}  // namespace earshot::bench
