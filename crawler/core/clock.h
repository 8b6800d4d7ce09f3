// Time in earshot: one unit (milliseconds since the Unix epoch, UTC) and one
// source of "now" that is injected everywhere, so tests move time with
// FakeClock::Advance() and never sleep.
#pragma once

#include <chrono>
#include <cstdint>

namespace earshot {

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

inline int64_t ToUnixMillis(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint FromUnixMillis(int64_t ms) { return TimePoint(Duration(ms)); }
inline TimePoint FromUnixSeconds(int64_t s) {
  return TimePoint(std::chrono::duration_cast<Duration>(std::chrono::seconds(s)));
}

// Thread-safety: implementations must allow Now() from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// Wall-clock UTC.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
};

// A clock that moves only when told. Not thread-safe: tests drive it from the
// thread that runs the code under test.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = FromUnixSeconds(1'790'000'000)) : now_(start) {}
  TimePoint Now() const override { return now_; }
  void Advance(Duration d) { now_ += d; }
  void Set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
};

}  // namespace earshot
